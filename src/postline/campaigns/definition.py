"""The campaign file: a YAML definition an operator writes, read and checked.

Every error names the file, the key and what is wrong. The templates are
compiled here, so a syntax error is reported with its part and line before
anything is stored or sent. The format is described in ``docs/campaigns.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError

from postline.errors import CampaignFileError, TemplateSyntaxError
from postline.templates import CampaignTemplate


class _CampaignFile(BaseModel):
    """The keys of a campaign file, as written."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    list_name: str = Field(alias="list", min_length=1)
    sender: str | int
    priority: StrictBool = False
    subject: str = Field(min_length=1)
    html: str | None = None
    html_file: str | None = None
    text: str | None = None
    text_file: str | None = None


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


def read_campaign_file(path: Path) -> CampaignDefinition:
    """Parse, validate and compile a campaign file, or raise CampaignFileError."""
    fields = _parse(path)
    html, html_key = _source(path, fields, "html")
    text, text_key = _source(path, fields, "text")
    if html is None:
        raise CampaignFileError(f"{path}: html: missing (give html or html_file)")

    try:
        template = CampaignTemplate(fields.subject, html, text)
    except TemplateSyntaxError as exc:
        where = {"html": html_key, "text": text_key}.get(exc.part, "subject")
        line = f" line {exc.line}" if exc.line is not None else ""
        raise CampaignFileError(f"{path}: {where}{line}: {exc.detail}") from exc

    return CampaignDefinition(
        name=fields.name,
        list_name=fields.list_name,
        sender=fields.sender,
        priority=fields.priority,
        subject=fields.subject,
        html=html,
        text=text,
        template=template,
    )


def _parse(path: Path) -> _CampaignFile:
    try:
        data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignFileError(f"{path}: cannot read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise CampaignFileError(f"{path}: not valid YAML: {exc}") from exc

    if not isinstance(data, dict):
        raise CampaignFileError(f"{path}: expected a mapping of keys at the top")

    try:
        return _CampaignFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "file"
        raise CampaignFileError(f"{path}: {key}: {err['msg']}") from exc


def _source(path: Path, fields: _CampaignFile, part: str) -> tuple[str | None, str]:
    """The source of the html or text part, inline or from its file.

    Returns the source and how errors name it: the key, or for a file the
    key and the file's name (``html_file: body.html``).
    """
    inline: str | None = getattr(fields, part)
    file_name: str | None = getattr(fields, f"{part}_file")
    if inline is not None and file_name is not None:
        raise CampaignFileError(f"{path}: {part}: give {part} or {part}_file, not both")

    if inline is not None:
        return inline, part

    if file_name is None:
        return None, part

    key = f"{part}_file"
    file = path.parent / file_name
    try:
        return file.read_text(encoding="utf-8"), f"{key}: {file_name}"
    except (OSError, UnicodeDecodeError) as exc:
        raise CampaignFileError(f"{path}: {key}: cannot read {file}: {exc}") from exc
