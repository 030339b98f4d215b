"""Shared set-up for the benchmarks: a scratch database and synthetic audience.

Benchmarks use the real PostgreSQL and RabbitMQ on loopback, a database of
their own (``postline_bench``, recreated each run) and print figures; they
assert nothing.
"""

from __future__ import annotations

import os
import random
import uuid

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.settings import Settings, load_settings
from postline.store.createdb import create_and_upgrade
from postline.store.tables import lists, profiles, subscriptions

PG = os.environ.get("POSTLINE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
FIRST = ["Ana", "Ben", "Chloé", "Dmitri", "Eva", "Farid", "Grace", "Hugo", "Ines"]
CITIES = ["Lisbon", "Porto", "Berlin", "Lyon", "Turin", "Ghent", "Bergen"]


def bench_settings(tmp: str) -> Settings:
    """Settings for a benchmark: its own database, the default vhost."""
    url = f"{PG.replace('postgresql://', 'postgresql+asyncpg://')}/postline_bench"
    create_and_upgrade(url, fresh=True)
    return load_settings(database_url=url, spool_dir=f"{tmp}/spool")


async def make_audience(engine: AsyncEngine, count: int) -> str:
    """A list of ``count`` subscribed profiles; returns the list's name."""
    rng = random.Random(7)
    list_name = f"bench-{uuid.uuid4().hex[:6]}"
    async with engine.begin() as conn:
        list_id = (
            await conn.execute(
                insert(lists).values(name=list_name).returning(lists.c.id)
            )
        ).scalar_one()
        rows = [
            {
                "email": f"user{i}@bench.example.com",
                "first_name": rng.choice(FIRST),
                "fields": {
                    "city": rng.choice(CITIES),
                    "plan": rng.choice(["free", "pro"]),
                },
            }
            for i in range(count)
        ]
        ids = (
            (await conn.execute(insert(profiles).returning(profiles.c.id), rows))
            .scalars()
            .all()
        )
        await conn.execute(
            insert(subscriptions),
            [
                {
                    "profile_id": pid,
                    "list_id": list_id,
                    "channel": "email",
                    "contact": row["email"],
                }
                for pid, row in zip(ids, rows, strict=True)
            ],
        )
    return list_name
