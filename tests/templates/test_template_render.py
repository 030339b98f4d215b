"""Rendering: sandboxed Jinja2, strict about undefined variables, located errors."""

from __future__ import annotations

import pytest

from postline.errors import RenderError, TemplateSyntaxError
from postline.templates import CampaignTemplate


def test_every_part_is_rendered_with_the_recipients_variables() -> None:
    template = CampaignTemplate(
        subject="{{ first_name }}, your {{ plan }} plan",
        html="<p>Dear {{ first_name }} {{ profile.last_name }}</p>",
        text="Dear {{ first_name }}, see {{ unsubscribe_url }}",
    )

    content = template.render(
        {
            "first_name": "Ada",
            "plan": "gold",
            "profile": {"last_name": "Lovelace"},
            "unsubscribe_url": "https://u.test/1",
        }
    )

    assert content.subject == "Ada, your gold plan"
    assert content.html == "<p>Dear Ada Lovelace</p>"
    assert content.text == "Dear Ada, see https://u.test/1"


def test_only_the_html_part_is_escaped() -> None:
    template = CampaignTemplate(
        subject="{{ name }}", html="<b>{{ name }}</b>", text="{{ name }}"
    )

    content = template.render({"name": "Tom & <Jerry>"})

    assert content.html == "<b>Tom &amp; &lt;Jerry&gt;</b>"
    assert content.subject == content.text == "Tom & <Jerry>"


def test_an_undefined_variable_names_the_part_and_the_template_line() -> None:
    html = "<p>Hello</p>\n<p>{{ first_name }}</p>\n<p>Code: {{ coupon }}</p>\n"
    template = CampaignTemplate(subject="Hi", html=html, text="plain")

    with pytest.raises(RenderError) as caught:
        template.render({"first_name": "Ada"})

    assert (caught.value.part, caught.value.line) == ("html", 3)
    assert str(caught.value) == "html line 3: 'coupon' is undefined"


def test_a_missing_attribute_inside_a_loop_is_located_on_its_own_line() -> None:
    text = "Your orders:\n{% for order in orders %}\n- {{ order.total }}\n{% endfor %}"
    template = CampaignTemplate(subject="Orders", html="<p>x</p>", text=text)

    with pytest.raises(RenderError) as caught:
        template.render({"orders": [{"id": 1}]})

    assert (caught.value.part, caught.value.line) == ("text", 3)
    assert "total" in caught.value.detail


def test_a_default_fills_in_for_a_variable_the_recipient_lacks() -> None:
    template = CampaignTemplate(
        subject="{{ first_name | default('Hello') }}, our picks", html="<p>x</p>"
    )

    assert template.render({}).subject == "Hello, our picks"
    assert template.render({"first_name": "Ada"}).subject == "Ada, our picks"


def test_a_failing_filter_fails_the_recipient_not_the_run() -> None:
    template = CampaignTemplate(subject="{{ 100 // count }}", html="<p>x</p>")

    with pytest.raises(RenderError) as caught:
        template.render({"count": 0})

    assert caught.value.part == "subject"
    assert "ZeroDivisionError" in caught.value.detail


def test_the_sandbox_keeps_templates_away_from_python_internals() -> None:
    template = CampaignTemplate(
        subject="{{ ''.__class__.__mro__[1].__subclasses__() }}", html="<p>x</p>"
    )

    with pytest.raises(RenderError) as caught:
        template.render({})

    assert caught.value.part == "subject"


def test_a_syntax_error_is_reported_with_its_part_and_line() -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        CampaignTemplate(subject="Hi", html="<p>\n{% if x %}\n<b>{{ x }</b>\n")

    assert (caught.value.part, caught.value.line) == ("html", 3)
    assert str(caught.value).startswith("html line 3: ")


def test_without_a_text_template_the_text_is_derived_from_the_html() -> None:
    template = CampaignTemplate(
        subject="Hi",
        html=(
            "<html><head><style>p { color: red }</style></head><body>"
            "<p>Hello {{ first_name }} &amp; welcome</p>"
            '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>'
            "</body></html>"
        ),
    )

    content = template.render(
        {"first_name": "Ada <3", "unsubscribe_url": "https://u.test/9"}
    )

    assert content.text == "Hello Ada <3 & welcome\n\nUnsubscribe (https://u.test/9)\n"


def test_text_follows_the_rendered_html_when_an_expression_holds_markup() -> None:
    template = CampaignTemplate(
        subject="Hi",
        html='<p>{{ "<i>" ~ name ~ "</i>" }}</p><div>{{ body | safe }}</div>',
    )

    content = template.render({"name": "Ada", "body": "<p>Welcome <b>aboard</b></p>"})

    assert content.html == (
        "<p>&lt;i&gt;Ada&lt;/i&gt;</p><div><p>Welcome <b>aboard</b></p></div>"
    )
    assert content.text == "<i>Ada</i>\n\nWelcome aboard\n"
