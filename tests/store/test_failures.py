"""Telling values PostgreSQL refuses from a database that is unavailable."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.errors import DataRefusedError, StoreError
from postline.store.db import make_engine
from postline.store.failures import translate


async def failure(engine: AsyncEngine, *statements: str) -> SQLAlchemyError:
    """The error the last statement raises, run in one transaction."""
    with pytest.raises(SQLAlchemyError) as caught:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    return caught.value


@pytest.mark.parametrize(
    ("statements", "sqlstate"),
    [
        (["SELECT 1 / 0"], "22012"),
        (["SELECT 'many'::int"], "22P02"),
        (
            [
                "CREATE TEMP TABLE once (v int UNIQUE)",
                "INSERT INTO once VALUES (1), (1)",
            ],
            "23505",
        ),
        (
            [
                "CREATE TEMP TABLE wide (v text)",
                "CREATE INDEX ON wide (v)",
                "INSERT INTO wide SELECT string_agg(md5(g::text), '') "
                "FROM generate_series(1, 300) g",
            ],
            "54000",
        ),
    ],
    ids=["data", "bad_text", "constraint", "limit"],
)
async def test_values_postgresql_refuses_become_a_data_refused_error(
    engine: AsyncEngine, statements: list[str], sqlstate: str
) -> None:
    error = translate(await failure(engine, *statements), "testing")

    assert isinstance(error, DataRefusedError)
    assert str(error).startswith("refused by PostgreSQL: ")
    assert str(error).endswith(f"(sqlstate {sqlstate})")


async def test_a_connection_the_server_ends_is_a_store_error_not_a_refusal(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    try:
        exc = await failure(engine, "SELECT pg_terminate_backend(pg_backend_pid())")
    finally:
        await engine.dispose()

    error = translate(exc, "status events not applied")

    assert type(error) is StoreError
    assert str(error).startswith("status events not applied: ")


async def test_a_missing_database_is_a_store_error_not_a_refusal(
    database_url: str,
) -> None:
    engine = make_engine(database_url.rpartition("/")[0] + "/postline_missing_db")
    try:
        exc = await failure(engine, "SELECT 1")
    finally:
        await engine.dispose()

    assert type(translate(exc, "testing")) is StoreError


def test_a_refused_socket_is_a_store_error_not_a_refusal() -> None:
    error = translate(ConnectionRefusedError(111, "Connection refused"), "testing")

    assert type(error) is StoreError
    assert "Connection refused" in str(error)
