"""Create the configured database if it is missing, then migrate it.

Used by ``make demo`` on a fresh machine; ``postline db upgrade`` alone
expects the database to exist.
"""

from __future__ import annotations

import asyncio

import asyncpg

from postline.settings import get_settings
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


def main() -> None:
    url = get_settings().database_url
    asyncio.run(_ensure_database(url))
    upgrade(url)


if __name__ == "__main__":
    main()
