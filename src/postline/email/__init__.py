"""Email messages: building the MIME message of one recipient."""

from postline.email.message import MessageBuilder, ascii_address, encode_subject

__all__ = ["MessageBuilder", "ascii_address", "encode_subject"]
