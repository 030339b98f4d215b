"""Rendering a campaign's subject, HTML and text with Jinja2 in a sandbox.

Templates are compiled once per campaign (``CampaignTemplate``) and rendered
once per recipient. The sandbox keeps template authors away from Python
internals; ``StrictUndefined`` makes a variable the recipient lacks an error
rather than an empty string, so a message never goes out half-filled. Only
the HTML part is autoescaped.

Compile errors raise ``TemplateSyntaxError`` and render errors ``RenderError``;
both name the part (subject, html, text) and the template line.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from postline.errors import RenderError, TemplateSyntaxError
from postline.templates.text import html_to_text

# The file name Jinja2 gives templates compiled from a string; traceback
# frames with it carry template line numbers.
_TEMPLATE_FRAME = "<template>"

_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_MARKUP_IN_TAG = re.compile(r"[<>&]|\bsafe\b|\bautoescape\b|\bmarkup\b", re.I)

_PLAIN = SandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
)
_HTML = SandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=True, keep_trailing_newline=True
)


@dataclass(frozen=True, slots=True)
class RenderedContent:
    """One recipient's subject, HTML and plain text."""

    subject: str
    html: str
    text: str


class CampaignTemplate:
    """The compiled subject, HTML and text of one campaign.

    Without a text template, the text part is derived from the HTML template
    once, at compile time, and rendered like any other part. When a Jinja2
    tag in the HTML holds markup of its own (``{{ "<b>" ~ x }}``, ``| safe``),
    the text is derived from each recipient's rendered HTML instead: slower,
    but it then reads exactly as the HTML does.
    """

    def __init__(self, subject: str, html: str, text: str | None = None) -> None:
        self._subject = compile_part("subject", subject)
        self._html = compile_part("html", html)
        self._text = (
            compile_part("text", text) if text is not None else _derived_text(html)
        )

    def render(self, variables: Mapping[str, Any]) -> RenderedContent:
        """Render every part for one recipient, or raise ``RenderError``."""
        subject = _render("subject", self._subject, variables)
        html = _render("html", self._html, variables)
        if self._text is None:
            text = html_to_text(html)
        else:
            text = _render("text", self._text, variables)

        return RenderedContent(subject=subject, html=html, text=text)


def compile_part(part: str, source: str) -> jinja2.Template:
    """Compile one part; a syntax error names the part and the line."""
    env = _HTML if part == "html" else _PLAIN
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateSyntaxError(part, exc.lineno, exc.message or str(exc)) from exc


def _derived_text(html: str) -> jinja2.Template | None:
    """A text template made from the HTML template, or None if none is safe.

    Stripping markup from the template source gives the same text as
    stripping it from each rendered HTML only when no Jinja2 tag holds
    markup or lets markup through unescaped.
    """
    if any(_MARKUP_IN_TAG.search(tag) for tag in _JINJA_TAG.findall(html)):
        return None

    try:
        return compile_part("text", html_to_text(html))
    except TemplateSyntaxError:
        return None


def _render(part: str, template: jinja2.Template, variables: Mapping[str, Any]) -> str:
    try:
        return template.render(variables)
    # The template is the operator's code: whatever it raises (an undefined
    # variable, a filter given the wrong type, a division by zero) fails this
    # recipient only.
    except Exception as exc:
        raise RenderError(part, _template_line(exc), _describe(exc)) from exc


def _template_line(exc: BaseException) -> int | None:
    """The innermost template line in the traceback, if any."""
    lines = [
        frame.lineno
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename == _TEMPLATE_FRAME
    ]
    return lines[-1] if lines else None


def _describe(exc: Exception) -> str:
    if isinstance(exc, jinja2.TemplateError):
        return exc.message or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"
