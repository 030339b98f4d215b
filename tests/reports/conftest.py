"""Fixtures of the report tests: a fresh campaign launch per test."""

from __future__ import annotations

import pytest
from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.store.tables import launches
from registrar.seed import Seed


@pytest.fixture
async def seed(engine: AsyncEngine) -> Seed:
    return await Seed.create(engine)


async def finish_launch(seed: Seed) -> None:
    """Mark the seed's launch finished, as the campaign runner does at its end."""
    async with seed.engine.begin() as conn:
        await conn.execute(
            update(launches)
            .where(launches.c.id == seed.launch_id)
            .values(status="finished", finished_at=func.clock_timestamp())
        )
