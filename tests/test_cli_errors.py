"""Commands whose services are missing end with one line, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import settings_env
from postline.settings import Settings

POSTLINE = str(Path(sys.executable).parent / "postline")


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [POSTLINE, *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_a_missing_database_is_named_in_one_line(settings: Settings) -> None:
    base = settings.database_url.rpartition("/")[0]
    env = settings_env(settings) | {"POSTLINE_DATABASE_URL": f"{base}/no_such_db_x"}

    result = _run(env, "report", "undelivered")

    assert result.returncode == 2
    assert result.stderr.strip() == (
        'error: database: database "no_such_db_x" does not exist'
    )


def test_a_plain_postgresql_url_is_taken_as_asyncpg(settings: Settings) -> None:
    plain = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    env = settings_env(settings) | {"POSTLINE_DATABASE_URL": plain}

    result = _run(env, "report", "undelivered", "--json")

    assert result.returncode == 0, result.stderr


def test_an_mta_asked_for_an_unknown_sender_refuses_to_start(
    settings: Settings,
) -> None:
    result = _run(settings_env(settings), "mta", "--sender", "987654")

    assert result.returncode == 2
    assert "no built-in sender with id 987654" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_mta_and_the_registrar_name_a_missing_database_at_start(
    settings: Settings,
) -> None:
    base = settings.database_url.rpartition("/")[0]
    env = settings_env(settings) | {"POSTLINE_DATABASE_URL": f"{base}/no_such_db_y"}

    for command in (["mta"], ["registrar"]):
        result = _run(env, *command)

        assert result.returncode == 2, command
        lines = result.stderr.strip().splitlines()
        assert lines[-1].startswith("error: "), command
        assert 'database "no_such_db_y" does not exist' in lines[-1], command
        assert "Traceback" not in result.stderr
