"""Markdown in the native chat: agents' answers, notices and widget text."""

from __future__ import annotations

from typing import Any

import reflex as rx

from chatkit_app.api.security_headers import image_origins
from chatkit_app.settings import get_settings
from chatkit_app.urls import configured_backend_url

# Next to markdown.jsx in the built app (markdown.jsx imports it as "./copy.jsx").
COPY_LIBRARY = rx.asset("copy.jsx", shared=True).importable_path
# The renderer itself, imported on first use by answer_text.jsx (as "./markdown.jsx").
RENDERER = rx.asset("markdown.jsx", shared=True).importable_path


class ChatMarkdown(rx.Component):
    """Markdown from agents and widgets (`markdown.jsx`): GitHub-flavoured, highlighted
    code, no raw HTML (a model's `<img onerror=...>` stays text). The renderer is a lazily
    loaded chunk, so the start page does not download it (bench/frontend.py); until it is
    in, `answer_text.jsx` shows the text unformatted instead of an empty bubble."""

    library = rx.asset("answer_text.jsx", shared=True).importable_path
    tag = "ChatMarkdown"
    lib_dependencies: list[str] = ["react-markdown@10.1.0", "remark-gfm@4.0.1", "react-syntax-highlighter@16.1.2"]

    text: rx.Var[str]
    # Origins whose images render as <img> (besides the page's own, data: and blob:);
    # any other image becomes a link, so an answer cannot make the browser fetch it.
    allowed_image_sources: rx.Var[list[str]]


class CopyButton(rx.NoSSRComponent):
    """Copies `text` in the browser and says "Copied" for a moment (`copy.jsx`)."""

    library = COPY_LIBRARY
    tag = "CopyButton"

    text: rx.Var[str]
    label: rx.Var[str]
    copied_label: rx.Var[str]
    show_label: rx.Var[bool]


# Prism's token classes in the theme's colours: Radix's scales flip with the light/dark
# class, so code follows a scheme switch (the system's, or the agent's switch_theme) live.
TOKEN_COLORS = {
    "var(--gray-10)": ("comment", "prolog", "doctype", "cdata"),
    "var(--gray-11)": ("punctuation",),
    "var(--red-11)": ("property", "tag", "deleted"),
    "var(--orange-11)": ("boolean", "number", "constant", "symbol"),
    "var(--grass-11)": ("selector", "attr-name", "string", "char", "builtin", "inserted"),
    "var(--cyan-11)": ("operator", "entity", "url"),
    "var(--purple-11)": ("atrule", "attr-value", "keyword"),
    "var(--blue-11)": ("function", "class-name"),
    "var(--amber-11)": ("regex", "important", "variable"),
}

BLOCK_GAP = "0 0 0.75em"

MARKDOWN_STYLE: dict[str, Any] = {
    "min-width": "0",
    "max-width": "100%",
    "overflow-wrap": "anywhere",  # a long word or URL wraps instead of widening the message
    "line-height": "1.6",
    "& .chat-markdown-plain": {"white-space": "pre-wrap"},  # until the renderer is in
    "& p": {"margin": BLOCK_GAP},
    "& > .chat-markdown > :last-child": {"margin-bottom": "0 !important"},
    "& h1, & h2, & h3, & h4, & h5, & h6": {
        "font-weight": "650",
        "line-height": "1.3",
        "margin": "1.1em 0 0.5em",
        "color": "var(--gray-12)",
    },
    "& > .chat-markdown > :is(h1, h2, h3, h4, h5, h6):first-child": {"margin-top": "0"},
    "& h1": {"font-size": "1.5em"},
    "& h2": {"font-size": "1.3em"},
    "& h3": {"font-size": "1.15em"},
    "& h4, & h5, & h6": {"font-size": "1em"},
    "& ul, & ol": {"padding-left": "1.5em", "margin": BLOCK_GAP},
    "& ul": {"list-style": "disc"},
    "& ol": {"list-style": "decimal"},
    "& li": {"margin": "0.25em 0"},
    "& li > ul, & li > ol": {"margin": "0.25em 0 0"},
    "& blockquote": {
        "margin": BLOCK_GAP,
        "padding": "0.1em 0 0.1em 0.9em",
        "border-left": "3px solid var(--gray-a6)",
        "color": "var(--gray-11)",
    },
    "& blockquote > :last-child": {"margin-bottom": "0"},
    "& hr": {"border": "none", "border-top": "1px solid var(--gray-a5)", "margin": "1em 0"},
    "& a": {"color": "var(--accent-11)"},
    "& img": {"max-width": "100%", "height": "auto"},
    "& code.chat-inline-code": {
        "background": "var(--gray-a3)",
        "color": "var(--gray-12)",
        "padding": "0.1em 0.35em",
        "border-radius": "4px",
        "font-family": "var(--code-font-family, monospace)",
        "font-size": "0.88em",
    },
    "& .chat-table-scroll": {
        "max-width": "100%",
        "overflow-x": "auto",
        "margin": BLOCK_GAP,
        "border": "1px solid var(--gray-a5)",
        "border-radius": "8px",
    },
    "& table": {"border-collapse": "collapse", "width": "max-content", "min-width": "100%", "font-size": "0.95em"},
    "& .chat-cell": {"max-width": "22em"},
    "& th, & td": {
        "border-bottom": "1px solid var(--gray-a5)",
        "padding": "6px 10px",
        "text-align": "left",
        "vertical-align": "top",
        "overflow-wrap": "normal",  # columns keep words whole; the box scrolls instead
    },
    "& th + th, & td + td": {"border-left": "1px solid var(--gray-a5)"},
    "& tbody tr:last-child td": {"border-bottom": "none"},
    "& th": {"background": "var(--gray-a2)", "font-weight": "600", "white-space": "nowrap"},
    "& .chat-code": {
        "margin": BLOCK_GAP,
        "border": "1px solid var(--gray-a5)",
        "border-radius": "8px",
        "background": "var(--gray-a2)",
        "overflow": "hidden",
        "max-width": "100%",
    },
    "& .chat-code-header": {
        "display": "flex",
        "align-items": "center",
        "justify-content": "space-between",
        "padding": "2px 6px 2px 12px",
        "border-bottom": "1px solid var(--gray-a4)",
        "background": "var(--gray-a2)",
        "font-size": "12px",
        "color": "var(--gray-11)",
    },
    "& .chat-code-language": {"font-family": "var(--code-font-family, monospace)", "text-transform": "lowercase"},
    "& .chat-copy-button": {
        "display": "inline-flex",
        "align-items": "center",
        "gap": "4px",
        "padding": "4px 6px",
        "border": "none",
        "border-radius": "6px",
        "background": "transparent",
        "color": "var(--gray-11)",
        "font": "inherit",
        "cursor": "pointer",
    },
    "& .chat-copy-button:hover": {"background": "var(--gray-a4)", "color": "var(--gray-12)"},
    "& .chat-copy-button:focus-visible": {"outline": "2px solid var(--focus-8)", "outline-offset": "1px"},
    "& .chat-code pre": {
        "margin": "0",
        "padding": "10px 12px",
        "overflow-x": "auto",
        "background": "transparent",
        "color": "var(--gray-12)",
        "font-family": "var(--code-font-family, monospace)",
        "font-size": "13px",
        "line-height": "1.5",
        "tab-size": "4",
        "overflow-wrap": "normal",
    },
    "& .chat-code pre:focus-visible": {"outline": "2px solid var(--focus-8)", "outline-offset": "-2px"},
    "& .chat-code code": {"font-family": "inherit", "white-space": "pre"},
    **{", ".join(f"& .token.{name}" for name in names): {"color": color} for color, names in TOKEN_COLORS.items()},
    "& .token.comment": {"font-style": "italic"},
    "& .token.bold, & .token.important": {"font-weight": "600"},
}


def markdown_image_sources() -> list[str]:
    """The origins whose images Markdown shows (the page's CSP img-src allows the same)."""
    return image_origins(get_settings(), configured_backend_url())


def safe_markdown(text: Any) -> rx.Component:
    return rx.box(
        ChatMarkdown.create(text=text, allowed_image_sources=markdown_image_sources()),
        style=MARKDOWN_STYLE,
        width="100%",
    )
