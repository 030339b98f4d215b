"""Process-wide logging: one line per unit of work, in key=value form."""

import logging
import sys


def setup_logging(level: str = "INFO") -> None:
    """Send every Postline logger to stderr with a terse, greppable format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)-5s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())

    # The AMQP and mail libraries narrate every frame at INFO; keep their warnings.
    for noisy in ("aiormq", "aio_pika", "mail.log", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
