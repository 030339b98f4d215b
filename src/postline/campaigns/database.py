"""The edge between the campaign run and PostgreSQL: errors become StoreError.

Every function of this package that queries the database is wrapped with
``database_call``, so SQLAlchemy and asyncpg errors (and the socket errors
asyncpg lets through when it cannot connect) never travel further.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import SQLAlchemyError

from postline.errors import StoreError

P = ParamSpec("P")
T = TypeVar("T")

# The database's own message is enough; SQLAlchemy appends the statement.
_DETAIL = 300


def database_call(func: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Wrap a coroutine function so database failures raise ``StoreError``."""

    @functools.wraps(func)
    async def call(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await func(*args, **kwargs)
        except (SQLAlchemyError, OSError) as exc:
            raise StoreError(
                f"database failed in {func.__name__}: {brief(exc)}"
            ) from exc

    return call


def brief(exc: BaseException) -> str:
    """The first line of an error, without the SQL SQLAlchemy adds to it."""
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:_DETAIL]
