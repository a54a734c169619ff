"""Errors and the agent's notices above the conversation."""

from __future__ import annotations

import reflex as rx

from chatkit_app.ui.native.markdown import safe_markdown
from chatkit_app.ui.native.state import NativeChatState


def banners() -> rx.Component:
    """Errors (red, an alert) and the agent's notices (info / warning / danger)."""
    return rx.fragment(
        rx.cond(
            NativeChatState.error != "",
            rx.callout.root(
                rx.callout.icon(rx.icon("triangle-alert")),
                rx.callout.text(NativeChatState.error),
                color_scheme="red",
                role="alert",
                width="100%",
            ),
        ),
        rx.cond(
            NativeChatState.notice != "",
            rx.callout.root(
                rx.callout.icon(rx.icon("info")),
                rx.callout.text(
                    rx.cond(NativeChatState.notice_title != "", rx.text(NativeChatState.notice_title, weight="bold")),
                    safe_markdown(NativeChatState.notice),
                ),
                color_scheme=rx.match(NativeChatState.notice_level, ("danger", "red"), ("warning", "amber"), "blue"),
                role="status",
                width="100%",
                data_testid="notice",
            ),
        ),
    )
