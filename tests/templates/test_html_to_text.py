"""Plain text from HTML: what a reader sees, without markup or hidden parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from postline.templates import html_to_text

FIXTURES = Path("/work/shared/fixtures/templates")


def test_blocks_become_lines_and_links_show_their_target() -> None:
    html = (
        "<h1>News</h1><p>First line<br>second line</p>"
        '<p>Read <a href="https://example.test/a">the story</a> or '
        '<a href="https://example.test/b">https://example.test/b</a></p>'
        '<p><a href="#top">Top</a> <img src="x.png" alt="Logo"></p>'
    )

    assert html_to_text(html) == (
        "News\n\nFirst line\nsecond line\n\n"
        "Read the story (https://example.test/a) or https://example.test/b\n\n"
        "Top Logo\n"
    )


def test_head_styles_scripts_and_conditional_comments_are_left_out() -> None:
    html = (
        "<html><head><title>T</title><style>.a{color:red}</style></head>"
        "<body><script>alert(1)</script><!--[if mso]><p>Outlook</p><![endif]-->"
        "<p>Body &amp; soul&nbsp;here</p></body></html>"
    )

    assert html_to_text(html) == "Body & soul here\n"


@pytest.mark.parametrize(
    "name",
    sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*.html")),
)
def test_real_templates_give_readable_text_without_markup(name: str) -> None:
    text = html_to_text((FIXTURES / name).read_text(encoding="utf-8"))

    assert text.strip()
    assert "<td" not in text and "<table" not in text and "{color" not in text
