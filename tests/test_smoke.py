"""The test services answer and the schema migrates."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from postline.bus.topology import connect


async def test_schema_has_every_table(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("select tablename from pg_tables where schemaname = 'public'")
        )
        tables = {row[0] for row in rows}

    assert {"profiles", "subscriptions", "ledger", "events", "campaign_log"} <= tables


async def test_rabbitmq_vhost_accepts_connections(amqp_url: str) -> None:
    connection = await connect(amqp_url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue("smoke", auto_delete=True)
        assert queue.name == "smoke"
    finally:
        await connection.close()
