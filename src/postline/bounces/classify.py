"""Classify one SMTP reply into the two axes the platform acts on.

The decision drives the queue: ``hard`` (stop, suppress the address), ``soft``
(retry), ``bounce`` (stop, do not suppress), ``local`` (the MTA's own failure:
retried, never hard). The category groups replies in reports. A 2xx reply is
no failure: its decision is ``None``.

The code class gives the default; the rule table (``rules.RULES``) refines it.
A 4xx reply is soft whatever its text says, because retrying a live address
costs little while suppressing it costs the subscriber. Only a 5xx reply that
a ``hard`` rule matches becomes a hard bounce.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from postline.bounces.rules import RULES, Rule

Decision = Literal["hard", "soft", "bounce", "local"]

_ENHANCED = re.compile(r"^\s*[:\-]?\s*#?([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY = re.compile(r"^\s*(\d{3})[\s\-:]")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a reply means: the decision, a fine reason and a report category."""

    decision: Decision | None
    reason: str | None
    category: str


def classify(
    code: int, enhanced: str | None, text: str, *, local: bool = False
) -> Verdict:
    """Classify a reply by its code, enhanced status code (``5.1.1``) and text.

    ``local`` marks a reply the MTA made up for its own failure (DNS, connect,
    TLS, timeout): it is retried and never hard.
    """
    if 200 <= code < 300 and not local:
        return Verdict(None, None, "success")

    rule = match_rule(enhanced, text)
    category = rule.category if rule else "other"
    reason = rule.reason if rule else None

    if local:
        return Verdict("local", reason, category)

    if 400 <= code < 500:
        return Verdict("soft", reason, category)

    decision: Decision = "hard" if rule is not None and rule.hard else "bounce"
    return Verdict(decision, reason, category)


def match_rule(enhanced: str | None, text: str) -> Rule | None:
    """The first rule of the table that the reply matches, or None."""
    subject_detail = _subject_detail(enhanced)
    for rule in RULES:
        if rule.matches(subject_detail, text):
            return rule
    return None


def parse_reply(line: str) -> tuple[int, str | None, str]:
    """(code, enhanced code, text) of a flattened reply line such as
    ``550 5.1.1 <a@b.c>: user unknown``. A line without a code gets 0.
    """
    match = _REPLY.match(line)
    if match is None:
        return 0, None, line.strip()

    code = int(match[1])
    rest = line[match.end() :]
    enhanced_match = _ENHANCED.match(rest)
    if enhanced_match is None:
        return code, None, rest.strip()

    enhanced = ".".join(enhanced_match.groups())
    return code, enhanced, rest[enhanced_match.end() :].strip()


def _subject_detail(enhanced: str | None) -> str | None:
    if not enhanced:
        return None
    parts = enhanced.split(".")
    if len(parts) != 3:
        return None
    return (
        f"{int(parts[1])}.{int(parts[2])}" if all(p.isdigit() for p in parts) else None
    )
