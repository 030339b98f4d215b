"""Fixtures of the contacts tests: the session database, and files to import."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from postline.settings import Settings, load_settings

WriteCsv = Callable[[str | bytes], Path]


@pytest.fixture
def settings(database_url: str) -> Settings:
    """The session database; an import never touches RabbitMQ, so no vhost."""
    return load_settings(database_url=database_url)


@pytest.fixture
def write_csv(tmp_path: Path) -> WriteCsv:
    """Writes text (UTF-8) or raw bytes to a new CSV file and returns its path."""
    count = 0

    def write(content: str | bytes) -> Path:
        nonlocal count
        count += 1
        path = tmp_path / f"contacts-{count}.csv"
        data = content.encode("utf-8") if isinstance(content, str) else content
        path.write_bytes(data)
        return path

    return write
