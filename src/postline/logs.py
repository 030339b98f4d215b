"""Process-wide logging: one line per unit of work, in key=value form."""

import logging
import sys
from pathlib import Path

_FORMAT = "%(asctime)s %(levelname)-5s %(name)s %(message)s"


def setup_logging(level: str = "INFO") -> None:
    """Send every Postline logger to stderr with a terse, greppable format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())

    # The AMQP and mail libraries narrate every frame at INFO; keep their warnings.
    for noisy in ("aiormq", "aio_pika", "mail.log", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def log_to_file(path: Path, level: str = "INFO") -> None:
    """Send the full log to a file and keep only warnings on stderr.

    For commands whose terminal output is a report (the demo), where a line
    per message would bury it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    file = logging.FileHandler(path, encoding="utf-8")
    file.setFormatter(logging.Formatter(_FORMAT))
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter(_FORMAT))
    console.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.handlers[:] = [file, console]
    root.setLevel(level.upper())
