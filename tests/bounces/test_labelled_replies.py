"""The classifier against real SMTP replies labelled by hand."""

from __future__ import annotations

import json

from conftest import SHARED_FIXTURES
from postline.bounces.classify import classify, parse_reply

REPLIES = SHARED_FIXTURES / "bounces" / "replies.jsonl"


def test_hard_bounces_are_called_hard_rarely_wrongly_and_mostly_found() -> None:
    rows = [json.loads(line) for line in REPLIES.read_text().splitlines() if line]
    called_hard = truly_hard = both = 0
    for row in rows:
        verdict = classify(*parse_reply(row["reply"]))
        hard = verdict.decision == "hard"
        called_hard += hard
        truly_hard += row["type"] == "hard"
        both += hard and row["type"] == "hard"

    # A false hard bounce stop-lists a live address for good: precision first.
    assert len(rows) > 250
    assert both / called_hard >= 0.95
    assert both / truly_hard >= 0.85


def test_no_local_failure_is_ever_hard() -> None:
    rows = [json.loads(line) for line in REPLIES.read_text().splitlines() if line]
    for row in rows:
        verdict = classify(*parse_reply(row["reply"]), local=True)
        assert verdict.decision != "hard", row["reply"]
