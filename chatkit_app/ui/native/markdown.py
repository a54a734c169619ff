"""Markdown in the native chat: agents' answers, notices and widget text."""

from __future__ import annotations

from typing import Any

import reflex as rx

from chatkit_app.api.security_headers import image_origins
from chatkit_app.settings import get_settings
from chatkit_app.urls import configured_backend_url


class ChatMarkdown(rx.NoSSRComponent):
    """Markdown from agents and widgets (`markdown.jsx`): GitHub-flavoured, highlighted
    code, no raw HTML (a model's `<img onerror=...>` stays text). A lazily loaded chunk:
    the start screen does not download the renderer (bench/frontend.py)."""

    library = rx.asset("markdown.jsx", shared=True).importable_path
    tag = "ChatMarkdown"
    lib_dependencies: list[str] = ["react-markdown@10.1.0", "remark-gfm@4.0.1", "react-syntax-highlighter@16.1.2"]

    text: rx.Var[str]
    # Origins whose images render as <img> (besides the page's own, data: and blob:);
    # any other image becomes a link, so an answer cannot make the browser fetch it.
    allowed_image_sources: rx.Var[list[str]]


MARKDOWN_STYLE = {
    "& p": {"margin": "0 0 0.75em"},
    "& p:last-child, & ul:last-child, & ol:last-child": {"margin-bottom": "0"},
    "& ul, & ol": {"padding-left": "1.5em", "margin": "0 0 0.75em"},
    "& ul": {"list-style": "disc"},
    "& ol": {"list-style": "decimal"},
    "& li": {"margin": "0.25em 0"},
    "& code.chat-inline-code": {
        "background": "var(--accent-a3)",
        "color": "var(--accent-11)",
        "padding": "0.1em 0.35em",
        "border-radius": "4px",
        "font-family": "var(--code-font-family, monospace)",
        "font-size": "0.9em",
    },
    "& pre, & div[class*='language-']": {"border-radius": "8px", "margin": "0 0 0.75em !important"},
    "& table": {"border-collapse": "collapse", "margin": "0 0 0.75em"},
    "& th, & td": {"border": "1px solid var(--gray-a6)", "padding": "4px 8px"},
    "& a": {"color": "var(--accent-11)"},
}


def markdown_image_sources() -> list[str]:
    """The origins whose images Markdown shows (the page's CSP img-src allows the same)."""
    return image_origins(get_settings(), configured_backend_url())


def safe_markdown(text: Any) -> rx.Component:
    return rx.box(ChatMarkdown.create(text=text, allowed_image_sources=markdown_image_sources()), style=MARKDOWN_STYLE)
