"""Above the conversation: the connection's state, a service the server lacks, errors that are not a turn's (a turn's
failure is a card under it), and the agent's notices."""

from __future__ import annotations

import reflex as rx

from chatkit_app.ui.native.connection_view import connection_banner, reconnect_watch
from chatkit_app.ui.native.markdown import safe_markdown
from chatkit_app.ui.native.server_watch import server_watch
from chatkit_app.ui.native.state import NativeChatState


def banners() -> rx.Component:
    """The connection line, errors (red, an alert) and the agent's notices (info /
    warning / danger)."""
    return rx.fragment(
        reconnect_watch(),
        connection_banner(),
        server_watch(),
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
