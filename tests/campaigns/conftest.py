"""Fixtures of the campaign tests: a fresh list and sender per test."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from campaigns.data import Audience


@pytest.fixture
async def audience(engine: AsyncEngine) -> Audience:
    return await Audience.create(engine)
