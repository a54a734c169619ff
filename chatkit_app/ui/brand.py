"""The page frame's look: the site's brand (title, logo, favicon from the settings), the
accent colour and colour scheme of the whole page (the workflow's theme, and the scheme
the user or the agent's `switch_theme` last chose, so the top bar turns dark with the
chat), and the placeholders shown while ChatKit's script is tried."""

from __future__ import annotations

from typing import Any

import reflex as rx

from chatkit_app.settings import get_settings
from chatkit_app.ui.chat_state import ChatEventsState
from chatkit_app.ui.native import NativeChatState
from chatkit_app.ui.native.look import ui_option

SCRIPT_FAILED = (ChatEventsState.script_status == "failed") | (ChatEventsState.script_status == "timeout")
# The accent as CSS variables for Radix (as `native.theme.theme_style` does in Python), made
# in the page from the workflow's public theme: the top bar follows ChatKit's UI too.
_ACCENT_STYLE = (
    "((a) => typeof a === 'string' && a ? {'--accent-9': a, '--accent-11': a, '--accent-a11': a, '--focus-8': a,"
    " '--accent-10': `color-mix(in srgb, ${a} 88%, black)`, '--accent-a3': `color-mix(in srgb, ${a} 14%, transparent)`,"
    " '--accent-a4': `color-mix(in srgb, ${a} 20%, transparent)`} : {})"
)


def _scheme_class(scheme: Any) -> rx.Var[str]:
    return rx.match(scheme, ("dark", "dark-theme"), ("light", "light-theme"), "")


def page_scheme_class() -> rx.Var[str]:
    """Radix's scheme class for the whole page: the native chat's scheme where it shows,
    else the one ChatKit's UI was last switched to, else the workflow theme's."""
    theme = ui_option("theme")
    configured = rx.cond(theme.to(str) == "dark", "dark", ui_option("theme", "colorScheme").to(str))
    chatkit = _scheme_class(rx.cond(ChatEventsState.color_scheme != "", ChatEventsState.color_scheme, configured))
    native = _scheme_class(NativeChatState.color_scheme)
    mode = get_settings().chatkit_ui_mode
    if mode == "native":
        return native
    if mode == "chatkit":
        return chatkit
    return rx.cond(SCRIPT_FAILED, native, chatkit)


def page_accent_style() -> rx.Var[dict[str, str]]:
    accent = ui_option("theme", "color", "accent", "primary")
    return rx.Var(f"{_ACCENT_STYLE}({accent})").to(dict[str, str])


def favicon() -> rx.Component:
    """React places a `<link>` in the document's head wherever it is rendered."""
    href = get_settings().chatkit_site_favicon
    kind = "image/svg+xml" if href.endswith(".svg") else None
    return rx.el.link(rel="icon", href=href, **({"type": kind} if kind else {}))


def brand_mark() -> rx.Component:
    settings = get_settings()
    return rx.hstack(
        *(
            [rx.image(src=settings.chatkit_site_logo, alt="", height="28px", width="auto", data_testid="site-logo")]
            if settings.chatkit_site_logo
            else []
        ),
        rx.heading(settings.chatkit_site_title, size="4", weight="medium", data_testid="site-title", trim="both"),
        align="center",
        spacing="2",
        min_width="0",
    )


def chat_skeleton() -> rx.Component:
    """The chat's shape (greeting, prompts, composer) while it is being made."""
    return rx.flex(
        rx.skeleton(rx.box(height="32px", width="min(420px, 80%)"), loading=True),
        rx.skeleton(rx.box(height="96px", width="100%"), loading=True, border_radius="24px"),
        rx.hstack(*[rx.skeleton(rx.box(height="32px", width=w), loading=True) for w in ("140px", "170px")]),
        direction="column",
        align="center",
        justify="center",
        gap="24px",
        width="100%",
        max_width="760px",
        margin_x="auto",
        height="100%",
        padding="24px 12px",
        aria_busy="true",
        aria_label="Loading the chat",
        data_testid="chat-skeleton",
    )
