"""Create the configured database if it is missing, then migrate it."""

from __future__ import annotations

import asyncio

import asyncpg

from postline.errors import StoreError
from postline.store.db import upgrade


def create_and_upgrade(url: str, *, fresh: bool = False) -> None:
    """Make sure the database exists and carries every migration.

    With ``fresh`` an existing database of that name is dropped first (the
    demo and the benchmarks start from nothing). Synchronous: Alembic runs
    its own event loop.
    """
    asyncio.run(_ensure_database(url, fresh=fresh))
    upgrade(url)


async def _ensure_database(url: str, *, fresh: bool) -> None:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    base, _, name = dsn.partition("?")[0].rpartition("/")
    try:
        conn = await asyncpg.connect(f"{base}/postgres")
    except (OSError, asyncpg.PostgresError) as exc:
        where = base.rpartition("@")[2]
        raise StoreError(f"cannot reach PostgreSQL at {where}: {exc}") from exc

    try:
        if fresh:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = await conn.fetchval(
            "select 1 from pg_database where datname = $1", name
        )
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.PostgresError as exc:
        raise StoreError(f"cannot create database {name}: {exc}") from exc
    finally:
        await conn.close()
