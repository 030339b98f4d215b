"""The exception tree of Postline.

Every error the project raises on purpose derives from ``PostlineError``;
third-party errors (aio-pika, aiosmtplib, asyncpg) are translated at the edge
of the adapter that talks to them and never travel further.

    PostlineError
    ├── ConfigError          settings or a configuration file are wrong
    ├── InputError           a file or argument a user gave is wrong
    │   ├── ImportFileError  a contacts file cannot be read at all
    │   └── CampaignFileError
    ├── NotFoundError        a named object (campaign, list, sender) is missing
    ├── StateError           the object exists but is in the wrong state
    ├── RenderError          a template failed for one recipient
    ├── BusError             RabbitMQ refused or lost a publish or a connection
    │   └── PayloadError     a queued payload cannot be parsed
    ├── SpoolError           the MTA spool cannot be read or written
    └── DeliveryError        an SMTP attempt failed locally (DNS, connect, TLS)
"""


class PostlineError(Exception):
    """Root of every error Postline raises on purpose."""


class ConfigError(PostlineError):
    """Settings or a configuration file are wrong."""


class InputError(PostlineError):
    """A file or an argument given by a user is wrong."""


class ImportFileError(InputError):
    """A contacts file cannot be read at all (missing, no header, bad format)."""


class CampaignFileError(InputError):
    """A campaign definition file is wrong."""


class NotFoundError(PostlineError):
    """A named object (campaign, list, sender, launch) does not exist."""


class StateError(PostlineError):
    """An object exists but is in a state that forbids the action."""


class RenderError(PostlineError):
    """A template failed to render for one recipient."""

    def __init__(self, part: str, line: int | None, detail: str) -> None:
        self.part = part
        self.line = line
        self.detail = detail
        where = f"{part} line {line}" if line is not None else part
        super().__init__(f"{where}: {detail}")


class BusError(PostlineError):
    """RabbitMQ refused a publish, or the connection to it was lost."""


class PayloadError(BusError):
    """A payload taken from a queue cannot be parsed."""


class SpoolError(PostlineError):
    """The MTA spool cannot be read or written."""


class DeliveryError(PostlineError):
    """An SMTP attempt failed locally: DNS, connection, TLS or a timeout."""
