"""Last-resort wording for failures of the services a command depends on.

Adapters translate the errors they expect into ``PostlineError``; this turns
what still escapes at the top of a command (a database that is down or
missing, a refused connection) into one line instead of a traceback.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, SQLAlchemyError


def describe(exc: BaseException) -> str | None:
    """One line naming the failed service, or None for a genuine bug."""
    if isinstance(exc, DBAPIError):
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        return f"database: {detail}"

    if isinstance(exc, SQLAlchemyError):
        return f"database: {exc}"

    if isinstance(exc, ConnectionError | TimeoutError):
        return f"connection failed: {exc}"

    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{exc.strerror or exc}"

    return None
