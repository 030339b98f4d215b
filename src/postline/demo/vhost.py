"""The demo's own RabbitMQ vhost, so it never touches another install's queues.

Queue names (``akmta_<sender id>``, ``status_events``) are the same in every
Postline install, and sender ids start at 1 in every database: two installs
on one vhost would consume each other's messages and events. The demo
therefore runs in a vhost of its own, ``postline_demo``, made with
``rabbitmqctl`` when it is missing and the command is at hand.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from asyncio.subprocess import DEVNULL
from urllib.parse import unquote, urlsplit, urlunsplit

from postline.bus.topology import connect
from postline.errors import BusError, StateError

log = logging.getLogger(__name__)

DEMO_VHOST = "postline_demo"


def demo_amqp_url(amqp_url: str) -> str:
    """The configured AMQP URL with the demo's vhost as its path."""
    parts = urlsplit(amqp_url)
    return urlunsplit(parts._replace(path=f"/{DEMO_VHOST}"))


async def ensure_vhost(amqp_url: str) -> None:
    """Connect once to the vhost of ``amqp_url``, creating it if need be."""
    if await _reachable(amqp_url):
        return

    user = unquote(urlsplit(amqp_url).username or "guest")
    ctl = shutil.which("rabbitmqctl")
    if ctl is not None:
        for args in (
            ["add_vhost", DEMO_VHOST],
            ["set_permissions", "-p", DEMO_VHOST, user, ".*", ".*", ".*"],
        ):
            process = await asyncio.create_subprocess_exec(
                ctl, "-q", *args, stdout=DEVNULL, stderr=DEVNULL
            )
            await asyncio.wait_for(process.wait(), timeout=60)
        log.info("vhost_created vhost=%s user=%s", DEMO_VHOST, user)
        if await _reachable(amqp_url):
            return

    raise StateError(
        f"the demo needs the RabbitMQ vhost {DEMO_VHOST!r}; create it with: "
        f"rabbitmqctl add_vhost {DEMO_VHOST} && rabbitmqctl set_permissions "
        f"-p {DEMO_VHOST} {user} '.*' '.*' '.*'"
    )


async def _reachable(amqp_url: str) -> bool:
    try:
        connection = await connect(amqp_url)
    except BusError:
        return False

    await connection.close()
    return True
