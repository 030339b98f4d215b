"""The exception tree of Postline.

Every error the project raises on purpose derives from ``PostlineError``;
third-party errors (aio-pika, aiosmtplib, asyncpg) are translated at the edge
of the adapter that talks to them and never travel further.

    PostlineError
    ├── ConfigError          settings or a configuration file are wrong
    ├── InputError           a file or argument a user gave is wrong
    │   ├── ImportFileError  a contacts file cannot be read at all
    │   ├── CampaignFileError
    │   └── TemplateSyntaxError  a template does not compile
    ├── NotFoundError        a named object (campaign, list, sender) is missing
    ├── StateError           the object exists but is in the wrong state
    ├── RenderError          a template failed for one recipient
    ├── BusError             RabbitMQ refused or lost a publish or a connection
    │   └── PayloadError     a queued payload cannot be parsed
    ├── SpoolError           the MTA spool cannot be read or written
    ├── StoreError           PostgreSQL refused or lost a query or a connection
    │   └── DataRefusedError PostgreSQL refused the values; a retry fails again
    └── DeliveryError        an SMTP attempt failed locally (DNS, connect, TLS)
        ├── UnroutableError      the domain provably cannot receive mail
        └── OutcomeUnknownError  the connection failed after the final dot
"""


class PostlineError(Exception):
    """Root of every error Postline raises on purpose."""


class _TemplatePlace(Exception):
    """Where in a template an error arose: the part (subject, html, text), the line."""

    def __init__(self, part: str, line: int | None, detail: str) -> None:
        self.part = part
        self.line = line
        self.detail = detail
        where = f"{part} line {line}" if line is not None else part
        super().__init__(f"{where}: {detail}")


class ConfigError(PostlineError):
    """Settings or a configuration file are wrong."""


class InputError(PostlineError):
    """A file or an argument given by a user is wrong."""


class ImportFileError(InputError):
    """A contacts file cannot be read at all (missing, no header, bad format)."""


class CampaignFileError(InputError):
    """A campaign definition file is wrong."""


class TemplateSyntaxError(_TemplatePlace, InputError):
    """A template does not compile; names the part (subject, html, text) and line."""


class NotFoundError(PostlineError):
    """A named object (campaign, list, sender, launch) does not exist."""


class StateError(PostlineError):
    """An object exists but is in a state that forbids the action."""


class RenderError(_TemplatePlace, PostlineError):
    """A template failed to render for one recipient."""


class BusError(PostlineError):
    """RabbitMQ refused a publish, or the connection to it was lost."""


class PayloadError(BusError):
    """A payload taken from a queue cannot be parsed."""


class SpoolError(PostlineError):
    """The MTA spool cannot be read or written."""


class StoreError(PostlineError):
    """PostgreSQL refused or lost a query or a connection."""


class DataRefusedError(StoreError):
    """PostgreSQL refused the values of a statement; the same values fail again.

    A data exception, a violated constraint or an exceeded size limit, as
    opposed to a lost connection or a server that is down or busy.
    """


class DeliveryError(PostlineError):
    """An SMTP attempt failed locally: DNS, connection, TLS or a timeout."""


class UnroutableError(DeliveryError):
    """The recipient's domain provably cannot receive mail: NXDOMAIN or null MX."""


class OutcomeUnknownError(DeliveryError):
    """The connection failed after the final dot: the message may be delivered."""
