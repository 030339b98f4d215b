"""Shared fixtures: a fresh PostgreSQL database and RabbitMQ vhosts per run.

Tests talk to the real services on loopback. Each test session gets its own
database (migrated by Alembic) and its own vhost, dropped at the end, so runs
never see each other's rows or queues. ``amqp_url`` gives a test a vhost of
its own when it consumes shared queues such as ``status_events``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.settings import Settings, load_settings
from postline.store.db import make_engine, upgrade

# The fixtures shared by the project's repositories lie beside this checkout.
SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"

PG_ADMIN_DSN = os.environ.get(
    "POSTLINE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"
)
AMQP_BASE = os.environ.get("POSTLINE_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672/")


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(
        ["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60
    )


def _new_vhost() -> str:
    name = f"postline_test_{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", name)
    _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
    return name


def _pg_url(database: str) -> str:
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace(
        "postgresql://", "postgresql+asyncpg://"
    )
    return f"{base}/{database}"


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    # Synchronous on purpose: Alembic runs its own event loop.
    name = f"postline_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    url = _pg_url(name)
    upgrade(url)
    yield url
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def vhost_factory() -> Iterator[Callable[[], str]]:
    """Makes vhosts on demand and deletes them all when the session ends."""
    made: list[str] = []

    def make() -> str:
        name = _new_vhost()
        made.append(name)
        return AMQP_BASE.rstrip("/") + "/" + name

    yield make
    for name in made:
        _rabbitmqctl("delete_vhost", name)


@pytest.fixture
def amqp_url(vhost_factory: Callable[[], str]) -> str:
    """A vhost of this test's own."""
    return vhost_factory()


@pytest.fixture
def settings(database_url: str, amqp_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: the session database, a fresh vhost, a temp spool."""
    return load_settings(
        database_url=database_url,
        amqp_url=amqp_url,
        spool_dir=tmp_path / "spool",
    )


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment for a ``postline`` subprocess that uses these settings."""
    env = dict(os.environ)
    env.update(
        POSTLINE_DATABASE_URL=settings.database_url,
        POSTLINE_AMQP_URL=settings.amqp_url,
        POSTLINE_SPOOL_DIR=str(settings.spool_dir),
        POSTLINE_SMTP_ROUTES=settings.model_dump_json(include={"smtp_routes"})[15:-1],
        POSTLINE_HOSTNAME=settings.hostname,
    )
    return env


def unique(prefix: str) -> str:
    """A name no other test in this session uses."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


__all__ = ["SHARED_FIXTURES", "Settings", "settings_env", "unique"]
