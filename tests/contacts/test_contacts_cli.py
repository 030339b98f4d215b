"""``postline contacts import`` as an operator runs it."""

from __future__ import annotations

import asyncio
import csv
import sys
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from conftest import settings_env, unique
from contacts.conftest import WriteCsv
from postline.settings import Settings
from postline.store.tables import SubStatus, subscriptions

POSTLINE = str(Path(sys.executable).parent / "postline")


async def postline(settings: Settings, *args: str) -> tuple[int, str, str]:
    """Run a ``postline`` command; returns (exit code, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        POSTLINE,
        *args,
        env=settings_env(settings) | {"POSTLINE_LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_rejected_rows_go_to_stderr_as_file_and_line(
    settings: Settings, write_csv: WriteCsv, tmp_path: Path
) -> None:
    tag = unique("cli")
    path = write_csv(
        "email,first_name\n"
        f"ana.{tag}@example.com,Ana\n"
        "nobody,Nemo\n"
        f"bo.{tag}@example.com,Bo\n"
        f"ana.{tag}@example.com,Ana\n"
    )
    errors = tmp_path / "rejected.csv"
    list_name = unique("list")

    code, out, err = await postline(
        settings, "contacts", "import", str(path), "--list", list_name,
        "--errors", str(errors),
    )  # fmt: skip

    assert code == 0
    assert out.strip() == (
        f"{path}: list {list_name}: imported 2, updated 0, unchanged 0, kept 0, "
        "rejected 2"
    )
    assert err.splitlines() == [
        f"{path}:3: invalid email address 'nobody': has no @",
        f"{path}:5: duplicate email 'ana.{tag}@example.com': first on line 2",
    ]
    with errors.open(newline="", encoding="utf-8") as saved:
        assert list(csv.reader(saved)) == [
            ["line", "reason", "email", "first_name"],
            ["3", "invalid email address 'nobody': has no @", "nobody", "Nemo"],
            [
                "5",
                f"duplicate email 'ana.{tag}@example.com': first on line 2",
                f"ana.{tag}@example.com",
                "Ana",
            ],
        ]


async def test_a_nul_byte_is_one_rejected_row_not_a_failed_import(
    settings: Settings, write_csv: WriteCsv
) -> None:
    tag = unique("cli")
    path = write_csv(
        "email,first_name\n"
        f"ana.{tag}@example.com,Ana\n"
        f"nul.{tag}@example.com,Nu\x00ll\n"
        f"bo.{tag}@example.com,Bo\n"
    )
    list_name = unique("list")

    code, out, err = await postline(
        settings, "contacts", "import", str(path), "--list", list_name
    )

    assert code == 0
    assert out.strip().endswith(
        "imported 2, updated 0, unchanged 0, kept 0, rejected 1"
    )
    assert err.splitlines() == [f"{path}:3: control character in column first_name"]


async def test_a_second_run_reports_every_row_unchanged(
    settings: Settings, write_csv: WriteCsv
) -> None:
    tag = unique("cli")
    path = write_csv(f"email\nana.{tag}@example.com\nbo.{tag}@example.com\n")
    list_name = unique("list")
    await postline(settings, "contacts", "import", str(path), "--list", list_name)

    code, out, err = await postline(
        settings, "contacts", "import", str(path), "--list", list_name
    )

    assert (code, err) == (0, "")
    assert out.strip().endswith(
        "imported 0, updated 0, unchanged 2, kept 0, rejected 0"
    )


async def test_a_reimport_after_hard_bounces_warns_of_each_kept_status(
    settings: Settings, engine: AsyncEngine, write_csv: WriteCsv
) -> None:
    tag = unique("cli")
    ana, bo, cy = (f"{name}.{tag}@example.com" for name in ("ana", "bo", "cy"))
    path = write_csv(
        f"email,status\n{ana},subscribed\n{bo},subscribed\nnobody,0\n{cy},0\n"
    )
    list_name = unique("list")
    await postline(settings, "contacts", "import", str(path), "--list", list_name)
    async with engine.begin() as conn:
        await conn.execute(
            update(subscriptions)
            .where(subscriptions.c.contact.in_([bo, cy]))
            .values(status=SubStatus.HARDBOUNCED)
        )

    code, out, err = await postline(
        settings, "contacts", "import", str(path), "--list", list_name
    )

    assert code == 0
    assert out.strip() == (
        f"{path}: list {list_name}: imported 0, updated 0, unchanged 1, "
        "kept 2 (status not changed: the subscriber unsubscribed, complained "
        "or hard-bounced), rejected 1"
    )
    assert err.splitlines() == [
        f"{path}:3: kept status hardbounced for {bo} (an import never resubscribes)",
        f"{path}:4: invalid email address 'nobody': has no @",
        f"{path}:5: kept status hardbounced for {cy} (an import never resubscribes)",
    ]


async def test_a_file_level_error_exits_2_with_the_file_named(
    settings: Settings, write_csv: WriteCsv
) -> None:
    path = write_csv("name,phone\nAna,+44 7700 900123\n")

    code, out, err = await postline(
        settings, "contacts", "import", str(path), "--list", unique("list")
    )

    assert (code, out) == (2, "")
    assert f"{path}: header (line 1): no 'email' column" in err


async def test_a_missing_file_exits_2(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "absent.csv"

    code, _, err = await postline(
        settings, "contacts", "import", str(path), "--list", unique("list")
    )

    assert code == 2
    assert f"{path}: no such file" in err
