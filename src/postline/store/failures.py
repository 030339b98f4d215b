"""PostgreSQL's failures as Postline errors: refused values or an unavailable server.

The registrar treats the two oppositely. Values PostgreSQL refuses fail again
on every retry, so the events carrying them are set aside
(``DataRefusedError``). A lost connection, a server shutting down, a deadlock
or a missing database say nothing about the events, so the whole batch waits
for the server (``StoreError``).

The split follows the SQLSTATE class. Refused: 22, data exception (NUL in
text, a number out of range; the driver reports a value it cannot encode
under 22 too); 23, integrity constraint violation; 54, program limit exceeded
(an index row too large). Anything else, and any error without a SQLSTATE, is
a ``StoreError``.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from postline.errors import DataRefusedError, StoreError

_REFUSED_CLASSES = frozenset({"22", "23", "54"})

# Longest database message kept, in characters: it travels in a log line and
# in a dead letter's header.
_MESSAGE_MAX = 500


def translate(exc: SQLAlchemyError | OSError, doing: str) -> StoreError:
    """The Postline error to raise for a failure while ``doing`` something.

    A refusal's message is the database's own, fit for a dead letter's reason:
    ``refused by PostgreSQL: <message> (sqlstate <code>)``.
    """
    state = _sqlstate(exc)
    if state is not None and state[:2] in _REFUSED_CLASSES:
        return DataRefusedError(
            f"refused by PostgreSQL: {_brief(exc)} (sqlstate {state})"
        )

    return StoreError(f"{doing}: {_brief(exc)}")


def _sqlstate(exc: BaseException) -> str | None:
    if not isinstance(exc, DBAPIError):
        return None

    state = getattr(exc.orig, "sqlstate", None)
    return state if isinstance(state, str) else None


def _brief(exc: BaseException) -> str:
    """The driver's own message, without the statement and its parameters."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    first = lines[0] if lines else type(cause).__name__
    return first[:_MESSAGE_MAX]
