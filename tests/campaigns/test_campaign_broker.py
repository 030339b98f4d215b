"""A run whose RabbitMQ cannot be reached, or is lost midway: one error, resumable.

The broker is never stopped: "down" is a port nothing listens on, and "lost"
is a loopback relay of the test's own that drops its connections.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from campaigns.data import Audience, drain, header_int, launch_row, ledger_rows
from conftest import settings_env
from postline.campaigns import create_campaign, run_campaign
from postline.campaigns import run as run_module
from postline.errors import BusError
from postline.settings import Settings

POSTLINE = str(Path(sys.executable).parent / "postline")


class _Relay:
    """Relays TCP from a loopback port to the broker until ``cut`` drops it all."""

    def __init__(self, host: str, port: int) -> None:
        self._target = (host, port)
        self._transports: list[asyncio.BaseTransport] = []
        self._server: asyncio.Server | None = None

    async def start(self) -> int:
        """Listen on a free loopback port and return it."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def cut(self) -> None:
        """Refuse new connections and reset the open ones, as a dead broker would."""
        assert self._server is not None
        self._server.close()
        for transport in self._transports:
            transport.abort()

    async def _relay(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        self._transports += [writer.transport, up_writer.transport]
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer)
        )

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        except ConnectionError:
            pass
        finally:
            sink.close()


def _run_command(
    env: dict[str, str], campaign_id: int
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [POSTLINE, "campaign", "run", str(campaign_id)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_a_run_with_rabbitmq_down_ends_in_one_error_line_and_resumes_later(
    settings: Settings, engine: AsyncEngine, audience: Audience, tmp_path: Path
) -> None:
    members = {await audience.add() for _ in range(3)}
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))
    env = settings_env(settings) | {"POSTLINE_LOG_LEVEL": "WARNING"}
    # Nothing listens on port 1 of the loopback interface.
    down = env | {"POSTLINE_AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"}

    failed = _run_command(down, campaign_id)
    resumed = _run_command(env, campaign_id)

    assert failed.returncode == 2
    assert failed.stdout == ""
    [line] = failed.stderr.splitlines()
    assert line.startswith(f"error: campaign {campaign_id}: launch ")
    assert "cannot connect to RabbitMQ at amqp://guest:***@127.0.0.1:1/" in line
    assert line.endswith(
        "the launch stays running: run the same command again once RabbitMQ is "
        "reachable to resume it"
    )
    launch_id = int(line.split(": launch ")[1].split()[0])
    assert resumed.returncode == 0, resumed.stderr
    assert f"launch     {launch_id}\n" in resumed.stdout
    queued = await drain(settings.amqp_url, f"akmta_{audience.sender.id}")
    assert {header_int(m, "profile_id") for m in queued} == members


async def test_a_connection_lost_between_batches_stops_the_run_resumably(
    settings: Settings,
    engine: AsyncEngine,
    audience: Audience,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = await audience.add_many(40)
    campaign_id = await create_campaign(engine, audience.campaign_file(tmp_path))
    broker = urlsplit(settings.amqp_url)
    relay = _Relay(broker.hostname or "127.0.0.1", broker.port or 5672)
    port = await relay.start()
    through_relay = settings.model_copy(
        update={
            "amqp_url": settings.amqp_url.replace(
                broker.netloc.split("@")[-1], f"127.0.0.1:{port}"
            ),
            "campaign_batch_size": 10,
        }
    )
    # The broker goes away right after the second batch is confirmed.
    mark_published = run_module.mark_published
    marked = 0

    async def mark_then_cut(engine: AsyncEngine, launch_id: int, through: int) -> None:
        nonlocal marked
        await mark_published(engine, launch_id, through)
        marked += 1
        if marked == 2:
            relay.cut()

    monkeypatch.setattr(run_module, "mark_published", mark_then_cut)

    with pytest.raises(BusError) as caught:
        await run_campaign(through_relay, engine, campaign_id)

    monkeypatch.undo()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"campaign {campaign_id}: launch ")
    assert message.endswith(
        "run the same command again once RabbitMQ is reachable to resume it"
    )
    launch_id = int(message.split(": launch ")[1].split()[0])
    row = await launch_row(engine, launch_id)
    assert (row["status"], row["published_through"]) == ("running", ids[19])

    resumed = await run_campaign(settings, engine, campaign_id)

    assert (resumed.launch_id, resumed.queued) == (launch_id, 40)
    queued = await drain(settings.amqp_url, f"akmta_{audience.sender.id}")
    assert {header_int(m, "profile_id") for m in queued} == set(ids)
    rows = await ledger_rows(engine, launch_id)
    assert {row["status"] for row in rows.values()} == {"queued"}
