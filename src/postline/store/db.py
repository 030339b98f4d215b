"""The async engine, and the schema brought up to date by Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

_HERE = Path(__file__).parent


def make_engine(database_url: str) -> AsyncEngine:
    """An engine with a small pool: every Postline process is one event loop."""
    return create_async_engine(
        database_url, pool_size=5, max_overflow=5, pool_pre_ping=True
    )


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_HERE / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def upgrade(database_url: str) -> None:
    """Apply every migration not yet applied. Safe to run on every start."""
    command.upgrade(alembic_config(database_url), "head")
