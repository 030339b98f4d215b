"""Plain text from HTML, for the text part of a message that has no text template.

The result is what a reader of the HTML would see, laid out for a terminal:
blocks (paragraphs, rows, headings, list items) on lines of their own, links
followed by their target in brackets, images by their ``alt`` text, and
nothing of ``<head>``, ``<style>``, ``<script>`` or HTML comments (which holds
Outlook's conditional markup). Runs of white space collapse to one space.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_HIDDEN = frozenset({"head", "style", "script", "title", "noscript", "template"})
_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "dd", "div", "dl",
        "dt", "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2",
        "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p",
        "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
        "ul",
    }
)  # fmt: skip
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def html_to_text(html: str) -> str:
    """The readable text of an HTML document, ending in one newline."""
    parser = _TextParser()
    parser.feed(html)
    parser.close()
    return parser.text()


class _TextParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._chunks: list[str] = []
        self._hidden = 0
        # For each open <a>: its href and where its text begins in _chunks.
        self._links: list[tuple[str | None, int]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN:
            self._hidden += 1
        elif tag == "br":
            self._chunks.append("\n")
        elif tag in _BLOCKS:
            self._chunks.append("\n\n" if tag in ("p", "h1", "h2", "h3") else "\n")
        elif tag == "a":
            self._links.append((dict(attrs).get("href"), len(self._chunks)))
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt and not self._hidden:
                self._chunks.append(f" {alt} ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/> and <img/> carry no content; an empty <a/> or <div/> adds nothing.
        if tag in ("br", "img"):
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCKS:
            self._chunks.append("\n")
        elif tag == "a" and self._links:
            href, start = self._links.pop()
            shown = "".join(self._chunks[start:]).strip()
            if href and _worth_showing(href, shown) and not self._hidden:
                self._chunks.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._chunks.append(data.replace("\n", " "))

    def text(self) -> str:
        lines = (
            _SPACES.sub(" ", line).strip() for line in "".join(self._chunks).split("\n")
        )
        joined = "\n".join(lines)
        return _BLANK_LINES.sub("\n\n", joined).strip() + "\n"


def _worth_showing(href: str, shown: str) -> bool:
    """Links a reader can follow and does not already read in the text."""
    return not href.startswith(("#", "javascript:")) and href != shown
