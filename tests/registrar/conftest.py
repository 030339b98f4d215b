"""Fixtures of the registrar tests: a fresh campaign launch per test."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from registrar.seed import Seed


@pytest.fixture
async def seed(engine: AsyncEngine) -> Seed:
    return await Seed.create(engine)
