"""Create the configured database if it is missing, then migrate it."""

from __future__ import annotations

import asyncio

import asyncpg

from postline.store.db import upgrade


async def _ensure_database(url: str) -> None:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    base, _, name = dsn.rpartition("/")
    conn = await asyncpg.connect(f"{base}/postgres")
    try:
        exists = await conn.fetchval(
            "select 1 from pg_database where datname = $1", name
        )
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def create_and_upgrade(url: str) -> None:
    """Make sure the database exists and carries every migration.

    Synchronous: Alembic runs its own event loop.
    """
    asyncio.run(_ensure_database(url))
    upgrade(url)
