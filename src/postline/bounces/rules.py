"""The table of reply rules: what a remote answer's text says about a failure.

Each rule names a category (PowerMTA's vocabulary, which reports group by) and
a reason (Sisimai's names, finer than the category). The first rule whose text
pattern or enhanced status code matches wins, so rules that must shield others
come first: a quota or a spam block phrased with "user" words, a sender
refusal phrased with "does not exist". Only rules marked ``hard`` may make a
5xx reply a hard bounce; a 4xx reply is retried whatever it says.

Enhanced codes are matched by ``subject.detail`` (RFC 3463), class ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    """One line of the table; ``text`` is a case-insensitive regex."""

    name: str
    category: str
    reason: str
    text: re.Pattern[str] | None = None
    enhanced: frozenset[str] = frozenset()
    hard: bool = False

    def matches(self, subject_detail: str | None, text: str) -> bool:
        if subject_detail is not None and subject_detail in self.enhanced:
            return True
        return self.text is not None and self.text.search(text) is not None


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(alternatives), re.IGNORECASE)


def _codes(*values: str) -> frozenset[str]:
    return frozenset(values)


RULES: tuple[Rule, ...] = (
    # The MTA's own transport failures; a remote reply rarely reads like these.
    Rule(
        "connection",
        "bad-connection",
        "networkerror",
        _rx(r"connect(ion)? to \S+:\d+", r"connection (refused|reset|lost|closed)"),
    ),
    Rule(
        "tls",
        "bad-connection",
        "failedstarttls",
        _rx(r"\b(start)?tls\b", r"\bssl\b", r"certificate"),
    ),
    Rule(
        "dns-failure",
        "routing-errors",
        "networkerror",
        _rx(
            r"(mx|address) lookup for \S+ failed",
            r"no address for the mail hosts",
            r"servfail",
        ),
    ),
    Rule(
        "timeout",
        "no-answer-from-host",
        "networkerror",
        _rx(r"timed out", r"timeout"),
    ),
    Rule(
        "quota",
        "quota-issues",
        "mailboxfull",
        _rx(
            r"mailbox (is )?full",
            r"over ?quota",
            r"quota (exceeded|full)",
            r"out of storage",
            r"insufficient (disk|storage|system storage)",
            r"disk quota",
            r"mailbox size limit",
        ),
        _codes("2.2"),
    ),
    Rule(
        "size",
        "content-related",
        "mesgtoobig",
        _rx(
            r"message (size|length) exceeds",
            r"too (large|big)",
            r"size limit",
            r"line limit",
        ),
        _codes("3.4", "2.3"),
    ),
    Rule(
        "rate",
        "policy-related",
        "speeding",
        _rx(
            r"too many (connections|recipients|messages|hops)",
            r"rate limit",
            r"too quickly",
            r"frequency limited",
            r"at a rate",
            r"unexpected volume",
            r"temporarily deferred",
            r"slow down",
            r"too many (concurrent|simultaneous)",
            r"\bconnexions\b",
        ),
    ),
    Rule(
        "virus",
        "virus-related",
        "virusdetected",
        _rx(r"virus", r"malware", r"infected", r"security polic"),
    ),
    Rule(
        "spam",
        "spam-related",
        "spamdetected",
        _rx(
            r"spam",
            r"unsolicited",
            r"\bUBE\b",
            r"black ?list",
            r"block ?list",
            r"blocked using",
            r"\bRBL\b",
            r"reputation",
            r"content rejected",
            r"block-send",
        ),
    ),
    Rule(
        "authentication",
        "policy-related",
        "authfailure",
        _rx(r"dmarc", r"\bspf\b", r"dkim", r"authentication check", r"unauthenticated"),
        _codes(*(f"7.{n}" for n in range(20, 30))),
    ),
    Rule(
        "reverse-dns",
        "policy-related",
        "requireptr",
        _rx(r"reverse dns", r"\bptr\b", r"\brdns\b", r"mismatches client ip"),
    ),
    Rule(
        "relaying",
        "relaying-issues",
        "norelaying",
        _rx(
            r"relay(ing)? (access )?denied",
            r"not (configured|permitted|allowed) to relay",
            r"no relaying",
            r"insecure mail relay",
            r"relay not permitted",
        ),
    ),
    Rule(
        "sender",
        "invalid-sender",
        "rejected",
        _rx(
            r"sender (address )?(rejected|denied|refused)",
            r"domain of sender",
            r"from: domain",
            r"unroutable sender",
            r"(unauthori[sz]ed|invalid) sender",
            r"not verified",
            r"purported responsible",
            r"not a registered gateway user",
            r"sender denied",
        ),
        _codes("1.7", "1.8"),
    ),
    Rule(
        "disabled",
        "inactive-mailbox",
        "suspend",
        _rx(
            r"disabled",
            r"suspended",
            r"inactive",
            r"account (is |has been )?(blocked|locked|frozen|bloque)",
            r"temporar(il)?y locked",
            r"frozen",
            r"discontinued",
        ),
    ),
    Rule(
        "null-mx",
        "bad-domain",
        "notaccept",
        _rx(r"null mx", r"does not accept mail", r"accepts no mail"),
        _codes("1.10"),
        hard=True,
    ),
    Rule(
        "no-domain",
        "bad-domain",
        "hostunknown",
        _rx(
            r"host unknown",
            r"(recipient )?domain (does not exist|not found|is not reachable)",
            r"no such domain",
            r"invalid domain",
            r"nxdomain",
        ),
        _codes("1.2"),
        hard=True,
    ),
    Rule(
        "moved",
        "bad-mailbox",
        "hasmoved",
        _rx(r"not our (customer|user)", r"no longer (on (this|the) server|here)"),
        _codes("1.6"),
        hard=True,
    ),
    Rule(
        "no-mailbox",
        "bad-mailbox",
        "userunknown",
        _rx(
            r"user (unknown|not found|does ?n[o']t exist)",
            r"unknown (user|recipient|mailbox|or illegal user)",
            r"no such (user|recipient|mailbox|account)",
            r"(mailbox|address|recipient|user|account|rcpt)( \S+)? "
            r"(does not|doesn't|dosn't) exist",
            r"doesn't have an? \S+ account",
            r"(mailbox|recipient|address) (\S+ )?(not found|unavailable)",
            r"recip(ient)?notfound",
            r"invalid (recipient|mailbox)",
            r"recipient (unknown|not found)",
            r"bad destination mailbox",
            r"mailbox not found",
            r"not configured to receive",
        ),
        _codes("1.1", "1.3"),
        hard=True,
    ),
    Rule(
        "policy",
        "policy-related",
        "policyviolation",
        _rx(
            r"polic(y|ies)",
            r"not allowed",
            r"not authori[sz]ed",
            r"access denied",
            r"prohibited",
            r"host rejected",
            r"service refused",
        ),
        _codes("7.1", "7.0", "7.9"),
    ),
    Rule(
        "content",
        "content-related",
        "contenterror",
        _rx(r"header", r"8-bit", r"malformed", r"media error", r"content"),
        _codes("6.0", "6.9"),
    ),
    Rule(
        "protocol",
        "protocol-errors",
        "syntaxerror",
        _rx(r"syntax", r"sequence of commands", r"not implemented", r"need rcpt"),
        _codes("5.1", "5.2", "5.4"),
    ),
)
