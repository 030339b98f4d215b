"""The campaign file: a YAML definition an operator writes, read and checked.

Every problem names the file, the key and what is wrong, and all of them are
reported at once: an operator fixes the file in one pass. The templates are
compiled here, so a syntax error is reported with its part and line before
anything is stored or sent. The format is described in ``docs/campaigns.md``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
)
from pydantic_core import ErrorDetails

from postline.errors import CampaignFileError, TemplateSyntaxError
from postline.templates import CampaignTemplate, compile_part

# One-line values hold no control characters (PostgreSQL refuses NUL).
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"

# A template larger than this is a mistake (a log file, /dev/zero), not mail.
MAX_TEMPLATE_BYTES = 5_000_000


class _CampaignFile(BaseModel):
    """The keys of a campaign file, as written.

    No type here converts a value (a strict int, not a bool taken for 1), so
    a key that passes is usable as written even when other keys fail.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1, max_length=500, pattern=_PRINTABLE)
    list_name: str = Field(alias="list", min_length=1, pattern=_PRINTABLE)
    sender: str | StrictInt
    priority: StrictBool = False
    subject: str = Field(min_length=1, max_length=2000, pattern=_PRINTABLE)
    html: str | None = None
    html_file: str | None = None
    text: str | None = None
    text_file: str | None = None


# The keys as written in the file, for "did you mean" hints.
_KEYS = (
    "name",
    "list",
    "sender",
    "priority",
    "subject",
    "html",
    "html_file",
    "text",
    "text_file",
)


@dataclass(frozen=True, slots=True)
class CampaignDefinition:
    """A campaign as its file defines it, templates read and compiled."""

    name: str
    list_name: str
    sender: str | int
    priority: bool
    subject: str
    html: str
    text: str | None
    template: CampaignTemplate


@dataclass(slots=True)
class FileProblems:
    """The problems found in one campaign file, listed in the file's key order."""

    path: Path
    # The file's top-level keys in the order written; problems sort by them.
    order: list[str]
    _found: list[tuple[str, str]] = field(default_factory=list)

    def add(self, key: str, detail: str, *, where: str | None = None) -> None:
        """Note a problem of ``key``; ``where`` replaces the key in the text."""
        problem = (key, f"{self.path}: {where or key}: {detail}")
        if problem not in self._found:
            self._found.append(problem)

    def has(self, *keys: str) -> bool:
        """Whether any of these keys has a problem."""
        return any(found in keys for found, _ in self._found)

    def none(self) -> bool:
        """Whether the file has no problem so far."""
        return not self._found

    def lines(self) -> list[str]:
        """One ``FILE: key: problem`` line each; keys not in the file go last."""
        rank = {key: i for i, key in enumerate(self.order)}
        found = sorted(self._found, key=lambda p: rank.get(p[0], len(rank)))
        return [text for _, text in found]

    def error(self) -> CampaignFileError:
        """The error to raise: every problem, one per line."""
        return CampaignFileError("\n".join(self.lines()))


@dataclass(frozen=True, slots=True)
class CampaignFileCheck:
    """A campaign file as far as it could be read.

    ``list_name`` and ``sender`` are set whenever those keys are valid, even
    if others are not, so that the names can be looked up and every problem
    reported in one go; ``definition`` is set only when there is no problem.
    """

    problems: FileProblems
    list_name: str | None
    sender: str | int | None
    definition: CampaignDefinition | None


def read_campaign_file(path: Path) -> CampaignDefinition:
    """Parse, validate and compile a campaign file, or raise CampaignFileError."""
    check = check_campaign_file(path)
    if check.definition is None:
        raise check.problems.error()
    return check.definition


def check_campaign_file(path: Path) -> CampaignFileCheck:
    """Every problem of the file's keys and templates, and what could be read.

    A file that cannot be read or parsed at all raises ``CampaignFileError``.
    """
    data = _load(path)
    problems = FileProblems(path, [str(key) for key in data])
    fields = _validate(data, problems)
    usable = {key: value for key, value in data.items() if not problems.has(str(key))}

    html = _source(path, usable, "html", problems)
    text = _source(path, usable, "text", problems)
    if html.source is None and not problems.has("html", "html_file"):
        problems.add("html", "missing (give html or html_file)")

    subject = _Part(usable.get("subject"), "subject", "subject")
    template = _compile(subject, html, text, problems)

    definition = None
    if fields is not None and html.source is not None and template is not None:
        definition = CampaignDefinition(
            name=fields.name,
            list_name=fields.list_name,
            sender=fields.sender,
            priority=fields.priority,
            subject=fields.subject,
            html=html.source,
            text=text.source,
            template=template,
        )
    return CampaignFileCheck(
        problems=problems,
        list_name=fields.list_name if fields is not None else usable.get("list"),
        sender=fields.sender if fields is not None else usable.get("sender"),
        # A part can fail (a text_file that cannot be read) with the rest whole.
        definition=definition if problems.none() else None,
    )


def _load(path: Path) -> dict[Any, Any]:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignFileError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CampaignFileError(f"{path}: not valid YAML: {exc}") from exc

    if not isinstance(data, dict):
        raise CampaignFileError(f"{path}: expected a mapping of keys at the top")
    return data


def _validate(data: dict[Any, Any], problems: FileProblems) -> _CampaignFile | None:
    """The validated keys, or None after noting every validation error."""
    try:
        return _CampaignFile.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            key = str(error["loc"][0]) if error["loc"] else "file"
            problems.add(key, _explain(key, error))
        return None


def _explain(key: str, error: ErrorDetails) -> str:
    """A validation error in the words of the campaign file."""
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(key, _KEYS, n=1, cutoff=0.7)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key {key!r}{hint}"
    if kind == "missing":
        return "missing (required)"
    if kind == "string_too_short":
        return "must not be empty"
    if key == "sender":
        return f"expected a sender name or id, got {_kind(value)}"
    if kind == "string_type":
        return f"expected text, got {_kind(value)}"
    if kind == "bool_type":
        return f"expected true or false, got {_kind(value)}"
    return error["msg"]


def _kind(value: Any) -> str:
    """How a YAML value reads in an error: its text, or what sort of value it is."""
    if value is None:
        return "no value"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


@dataclass(frozen=True, slots=True)
class _Part:
    """One template part's source, its key, and how problems name it."""

    source: str | None
    key: str
    # The key, or for a file the key and the file's name (``html_file: a.html``).
    where: str


def _source(
    path: Path, usable: dict[Any, Any], part: str, problems: FileProblems
) -> _Part:
    """The source of the html or text part, inline or from its file."""
    inline: str | None = usable.get(part)
    file_name: str | None = usable.get(f"{part}_file")
    if inline is not None and file_name is not None:
        problems.add(part, f"give {part} or {part}_file, not both")
        return _Part(None, part, part)

    if inline is not None or file_name is None:
        return _Part(inline, part, part)

    key = f"{part}_file"
    file = path.parent / file_name
    try:
        with file.open("rb") as stream:
            data = stream.read(MAX_TEMPLATE_BYTES + 1)
        if len(data) > MAX_TEMPLATE_BYTES:
            problems.add(key, f"{file} is larger than {MAX_TEMPLATE_BYTES:,} bytes")
            return _Part(None, key, key)
        if b"\x00" in data:
            problems.add(key, f"{file} holds a NUL byte: not a text template")
            return _Part(None, key, key)
        return _Part(data.decode("utf-8"), key, f"{key}: {file_name}")
    except (OSError, UnicodeDecodeError) as exc:
        problems.add(key, f"cannot read {file}: {exc}")
        return _Part(None, key, key)


def _compile(
    subject: _Part, html: _Part, text: _Part, problems: FileProblems
) -> CampaignTemplate | None:
    """Compile each part on its own, so that every part's syntax error is noted.

    Returns the compiled template when the subject and HTML are there and no
    part fails.
    """
    failed = False
    for part, given in (("subject", subject), ("html", html), ("text", text)):
        if given.source is None:
            continue
        try:
            compile_part(part, given.source)
        except TemplateSyntaxError as exc:
            line = f" line {exc.line}" if exc.line is not None else ""
            problems.add(given.key, exc.detail, where=f"{given.where}{line}")
            failed = True

    if failed or subject.source is None or html.source is None:
        return None
    return CampaignTemplate(subject.source, html.source, text.source)
