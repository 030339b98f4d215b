"""Build and publish a campaign of N messages, and time it.

Usage::

    .venv/bin/python bench/campaign_publish.py [--messages 10000] [--batch 500]

Makes a scratch database (``postline_bench``) with N subscribed profiles,
creates a campaign with the demo's newsletter template (about 9 KB of HTML,
a condition and a loop per recipient), and runs it: audience, rules,
rendering, MIME building, ledger rows and confirmed publishes to RabbitMQ's
``akmta_<sender>`` queue, which is purged afterwards. Prints messages per
second.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from common import bench_settings, make_audience
from postline.bus import names
from postline.bus.topology import connect, declare_work_queue, open_channel
from postline.campaigns import create_campaign, run_campaign
from postline.demo.run import DATA
from postline.senders import SenderConfig, apply_senders
from postline.settings import Settings
from postline.store.db import make_engine

# Building must outpace the MTA by a wide margin on the same node.
TARGET = 1000


async def run(settings: Settings, messages: int) -> None:
    engine = make_engine(settings.database_url)
    try:
        list_name = await make_audience(engine, messages)
        (sender_id,) = await apply_senders(
            engine,
            [
                SenderConfig(
                    name="bench",
                    from_email="news@bench.example.com",
                    bounce_domain="bounces.bench.example.com",
                )
            ],
        )
        campaign = Path(settings.spool_dir).parent / "campaign.yaml"
        campaign.write_text(
            f"name: Benchmark\nlist: {list_name}\nsender: bench\n"
            "subject: '{{ first_name }}, the spring sale'\n"
            f"html_file: {DATA / 'newsletter.html'}\n"
            f"text_file: {DATA / 'newsletter.txt'}\n",
            encoding="utf-8",
        )
        campaign_id = await create_campaign(engine, campaign)
        await _purge(settings, sender_id)

        started = time.perf_counter()
        summary = await run_campaign(settings, engine, campaign_id)
        elapsed = time.perf_counter() - started
    finally:
        await engine.dispose()

    queued = await _purge(settings, sender_id)
    rate = summary.queued / elapsed
    print(f"campaign build+publish: messages={summary.queued} elapsed={elapsed:.2f}s")
    print(f"  rate={rate:.0f} msg/s  in queue={queued}")
    print(f"  batch={settings.campaign_batch_size} skipped={summary.skipped}")
    print(f"  ratio to target {TARGET} msg/s: {rate / TARGET:.2f}")


async def _purge(settings: Settings, sender_id: int) -> int:
    """Empty the sender's queue; returns how many messages it held."""
    connection = await connect(settings.amqp_url)
    try:
        channel = await open_channel(connection)
        queue = await declare_work_queue(channel, names.mta_queue(sender_id))
        result = await queue.purge()
        return int(result.message_count or 0)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        settings = bench_settings(tmp).model_copy(
            update={"campaign_batch_size": args.batch, "log_level": "WARNING"}
        )
        asyncio.run(run(settings, args.messages))


if __name__ == "__main__":
    main()
