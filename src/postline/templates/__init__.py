"""Rendering of campaign templates: Jinja2 in a sandbox, and text from HTML."""

from postline.templates.render import CampaignTemplate, RenderedContent, compile_part
from postline.templates.text import html_to_text

__all__ = ["CampaignTemplate", "RenderedContent", "compile_part", "html_to_text"]
