"""The session's error (for everyone) and the session panel for developers: status,
ids and token expiry, with "Refresh token" and "Validate", shown only in development mode
or with CHATKIT_DEBUG_PANEL=true; end users see none of it."""

from __future__ import annotations

import reflex as rx

from chatkit_app.settings import get_settings
from chatkit_app.ui.native.connection_view import CONNECTED, connection_badge
from chatkit_app.ui.state import ChatSessionState


def _detail(label: str, value: rx.Var[str] | str, testid: str) -> rx.Component:
    return rx.data_list.item(
        rx.data_list.label(label),
        rx.data_list.value(rx.code(value, data_testid=testid, variant="ghost")),
    )


def session_details() -> rx.Component:
    data = ChatSessionState.session_data
    return rx.data_list.root(
        _detail("User", data["userId"].to(str), "session-user"),
        _detail("Session", data["sessionId"].to(str), "session-id"),
        _detail("Workflow", data["workflowId"].to(str), "session-workflow"),
        _detail("Agent", ChatSessionState.agent_label, "session-agent"),
        _detail("Token expires", data["expiresAt"].to(str), "session-expires"),
        size="2",
    )


def status_badge() -> rx.Component:
    return rx.cond(
        CONNECTED,  # never green while the server cannot be reached
        rx.match(
            ChatSessionState.status,
            ("active", rx.badge("Session active", color_scheme="green", size="2")),
            ("loading", rx.badge(rx.spinner(size="1"), "Connecting…", color_scheme="gray", size="2")),
            ("error", rx.badge("Session error", color_scheme="red", size="2")),
            rx.badge("No session", color_scheme="gray", size="2"),
        ),
        connection_badge(),
    )


def error_callout() -> rx.Component:
    return rx.cond(
        ChatSessionState.error != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle-alert")),
            rx.callout.text(ChatSessionState.error, data_testid="session-error"),
            color_scheme="red",
            role="alert",
        ),
    )


def session_card() -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading("Chat session", size="4"),
                rx.spacer(),
                rx.box(status_badge(), data_testid="session-status", data_status=ChatSessionState.status),
                width="100%",
                align="center",
            ),
            error_callout(),
            rx.cond(ChatSessionState.session_data, session_details()),
            rx.cond(
                ChatSessionState.last_check != "",
                rx.text(ChatSessionState.last_check, size="1", color_scheme="gray", data_testid="session-check"),
            ),
            rx.hstack(
                rx.button(
                    "Refresh token",
                    on_click=ChatSessionState.refresh_session,
                    loading=ChatSessionState.is_loading,
                    variant="soft",
                ),
                rx.button("Validate", on_click=ChatSessionState.validate_session, variant="outline"),
                rx.cond(
                    ChatSessionState.status == "error",
                    rx.button("Start a new session", on_click=ChatSessionState.create_session("", "")),
                ),
                spacing="2",
            ),
            spacing="4",
            width="100%",
        ),
        width="100%",
        variant="ghost",
    )


def session_popover() -> rx.Component:
    return rx.popover.root(
        rx.popover.trigger(
            rx.button(status_badge(), variant="ghost", aria_label="Chat session details", data_testid="session-button")
        ),
        rx.popover.content(session_card(), width="420px", max_width="95vw"),
    )


def session_indicator() -> rx.Component:
    """The session's status and its panel (ids, token refresh, validate) for developers
    (development mode or CHATKIT_DEBUG_PANEL=true); for everyone else only the status as
    a data attribute, unseen, and "Reconnecting…" / "Offline" while the server cannot be
    reached."""
    shown = get_settings().debug_panel
    return rx.fragment(
        rx.box(
            *([session_popover()] if shown else []),
            data_testid="session-indicator",
            data_status=ChatSessionState.status,
            display=None if shown else "none",
        ),
        # Everyone sees it when the server cannot be reached (the panel's badge says it too).
        *([] if shown else [rx.cond(CONNECTED, rx.fragment(), connection_badge())]),
    )
