"""Which line of the file first gave each address, kept in PostgreSQL.

A file of a million rows must not be held in memory, so the addresses seen so
far live in a temporary table of the import's own connection: it is private
to that connection and disappears with it.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Column, Integer, MetaData, Table, Text, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import CreateTable

_seen = Table(
    "import_seen",
    MetaData(),
    Column("key", Text, primary_key=True),
    Column("line", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


async def open_claims(conn: AsyncConnection) -> None:
    """Create the connection's table of claimed addresses, empty."""
    await conn.execute(text("DROP TABLE IF EXISTS pg_temp.import_seen"))
    await conn.execute(CreateTable(_seen))


async def close_claims(conn: AsyncConnection) -> None:
    """Drop the table, so the pooled connection is clean for its next user."""
    await conn.execute(text("DROP TABLE IF EXISTS pg_temp.import_seen"))


async def claim(
    conn: AsyncConnection, first_lines: Mapping[str, int]
) -> dict[str, int]:
    """Claim addresses (lower case) for their lines.

    Returns the addresses an earlier batch already claimed, with the line that
    claimed them; the others are now claimed by the lines given.
    """
    if not first_lines:
        return {}

    stmt = insert(_seen).on_conflict_do_nothing().returning(_seen.c.key)
    params = [{"key": key, "line": line} for key, line in first_lines.items()]
    inserted = set((await conn.execute(stmt, params)).scalars())
    taken = [key for key in first_lines if key not in inserted]
    if not taken:
        return {}

    rows = await conn.execute(
        select(_seen.c.key, _seen.c.line).where(_seen.c.key.in_(taken))
    )
    return {key: line for key, line in rows}
