"""Pages: the chat site. `/` is ChatKit's chat over our own server, with the session's
status and details one click away."""

from __future__ import annotations

import reflex as rx

from chatkit_app.settings import get_settings
from chatkit_app.ui.chat_state import ChatEventsState
from chatkit_app.ui.chatkit import chatkit_widget
from chatkit_app.ui.native import NativeChatState, native_chat
from chatkit_app.ui.native.connection_view import CONNECTED, connection_badge
from chatkit_app.ui.state import ChatSessionState
from chatkit_app.urls import backend_base


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


SCRIPT_FAILED = (ChatEventsState.script_status == "failed") | (ChatEventsState.script_status == "timeout")


def script_failure() -> rx.Component:
    """With CHATKIT_UI_MODE=chatkit: say why the chat is missing when ChatKit's script
    (an iframe app on OpenAI's CDN) does not load."""
    if get_settings().chatkit_ui_mode != "chatkit":
        return rx.fragment()
    return rx.cond(
        SCRIPT_FAILED,
        rx.callout.root(
            rx.callout.icon(rx.icon("cloud-off")),
            rx.callout.text(
                "ChatKit's script did not load from ",
                rx.code(ChatEventsState.script_url),
                ". It comes from OpenAI's CDN, so it needs internet access and a page that allows it "
                "(CSP). Your session and threads are safe on this server. CHATKIT_UI_MODE=auto or native "
                "uses the built-in chat instead, which needs no internet.",
                data_testid="chatkit-script-error",
            ),
            color_scheme="amber",
            role="alert",
        ),
    )


def session_popover() -> rx.Component:
    return rx.popover.root(
        rx.popover.trigger(
            rx.button(status_badge(), variant="ghost", aria_label="Chat session details", data_testid="session-button")
        ),
        rx.popover.content(session_card(), width="420px", max_width="95vw"),
    )


def account_menu() -> rx.Component:
    """Who is signed in (CHATKIT_AUTH=oidc or header), and the way out."""
    return rx.cond(
        ChatSessionState.signed_in_as != "",
        rx.hstack(
            rx.text(
                ChatSessionState.signed_in_as,
                size="2",
                color_scheme="gray",
                data_testid="signed-in-as",
                display=["none", "inline"],
                max_width="220px",
                overflow="hidden",
                text_overflow="ellipsis",
                white_space="nowrap",
            ),
            rx.cond(
                ChatSessionState.auth_mode == "oidc",
                # A full page load of the backend's sign-out page, which signs out with a
                # same-site POST (other sites cannot sign you out). Reflex's own forms
                # never submit natively.
                rx.button(
                    rx.el.a(
                        rx.icon("log-out", size=16),
                        rx.text("Sign out", display=["none", "inline"]),
                        href=backend_base(get_settings()) + "/auth/logout",
                        reload_document=True,  # a page of the backend, not of the app's router
                        aria_label="Sign out",
                        data_testid="sign-out",
                    ),
                    as_child=True,
                    variant="ghost",
                    size="2",
                ),
            ),
            align="center",
            spacing="2",
        ),
    )


def top_bar() -> rx.Component:
    return rx.hstack(
        rx.heading("chatkit_app", size="5"),
        rx.cond(
            ChatSessionState.agent_label != "",
            rx.badge(
                ChatSessionState.agent_label,
                variant="soft",
                color_scheme="gray",
                data_testid="agent-badge",
                display=["none", "none", "inline-flex"],  # room for the buttons on a phone
            ),
        ),
        rx.spacer(),
        rx.button(
            rx.icon("square-pen", size=16),
            rx.text("New chat", display=["none", "inline"]),
            on_click=[ChatEventsState.new_chat, NativeChatState.new_chat],
            variant="soft",
            size="2",
            aria_label="New chat",
        ),
        rx.box(session_popover(), data_testid="session-indicator", data_status=ChatSessionState.status),
        account_menu(),
        width="100%",
        align="center",
        spacing="3",
        padding="10px 16px",
        border_bottom="1px solid var(--gray-a5)",
    )


def chat_area(workflow_id: rx.Var[str] | str = "") -> rx.Component:
    """ChatKit's UI, the native one, or (auto) ChatKit until its script fails to load,
    then the native UI in its place: same session, same thread."""
    mode = get_settings().chatkit_ui_mode
    if mode == "native":
        return rx.box(
            native_chat(workflow_id=workflow_id), flex="1", width="100%", min_height="0", data_testid="chat-area"
        )
    if mode == "chatkit":
        return chatkit_area(workflow_id)
    return rx.cond(
        SCRIPT_FAILED,
        rx.box(
            native_chat(thread_id=ChatEventsState.thread_id, workflow_id=workflow_id),
            flex="1",
            width="100%",
            min_height="0",
            data_testid="chat-area",
            data_fallback="native",
        ),
        chatkit_area(workflow_id),
    )


def chatkit_area(workflow_id: rx.Var[str] | str = "") -> rx.Component:
    return rx.box(
        chatkit_widget(
            workflow_id,
            theme=ChatEventsState.theme,
            on_ready=ChatEventsState.on_ready,
            on_error=ChatEventsState.on_error,
            on_response_start=ChatEventsState.on_response_start,
            on_response_end=ChatEventsState.on_response_end,
            on_thread_change=ChatEventsState.on_thread_change,
            on_effect=ChatEventsState.on_effect,
            on_widget_action=ChatEventsState.on_widget_action,
            on_client_tool=ChatEventsState.on_client_tool,
            on_script_status=ChatEventsState.on_script_status,
        ),
        flex="1",
        width="100%",
        max_width="960px",
        margin_x="auto",
        padding="3",
        min_height="0",
        data_testid="chat-area",
        data_ready=rx.cond(ChatEventsState.ready, "true", "false"),
        data_thread=ChatEventsState.thread_id,
        data_responses=ChatEventsState.responses,
        data_color_scheme=ChatEventsState.color_scheme,
        data_script_status=ChatEventsState.script_status,
    )


def index() -> rx.Component:
    return rx.flex(
        top_bar(),
        rx.box(error_callout(), script_failure(), width="100%", max_width="960px", margin_x="auto", padding_x="3"),
        chat_area(),
        direction="column",
        height="100vh",
        width="100%",
    )


def embed() -> rx.Component:
    """`/embed/{workflow_id}`: the chat alone, for an iframe on another site (allowed by
    CHATKIT_EMBED_ORIGINS)."""
    workflow_id: rx.Var[str] = getattr(rx.State, "workflow_id")  # the route argument  # noqa: B009
    return rx.flex(
        rx.box(error_callout(), script_failure(), width="100%", padding_x="3"),
        chat_area(workflow_id),
        direction="column",
        height="100vh",
        width="100%",
    )
