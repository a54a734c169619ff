"""Pages: the chat site. `/` is the chat (ChatKit's UI over our own server, or the native
one) under a top bar with the site's brand; in development (or with CHATKIT_DEBUG_PANEL)
the session's status and details are one click away."""

from __future__ import annotations

import reflex as rx

from chatkit_app.settings import get_settings
from chatkit_app.ui.brand import (
    SCRIPT_FAILED,
    brand_mark,
    chat_skeleton,
    favicon,
    page_accent_style,
    page_scheme_class,
)
from chatkit_app.ui.chat_state import ChatEventsState, topic_preview, topic_search
from chatkit_app.ui.chatkit import chatkit_widget
from chatkit_app.ui.native import NativeChatState, history_drawer, native_chat
from chatkit_app.ui.session_panel import error_callout, session_indicator
from chatkit_app.ui.state import ChatSessionState
from chatkit_app.urls import backend_base


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


def new_chat_button() -> rx.Component:
    """One "New chat" on screen: the native chat's sidebar has its own on a wide screen,
    so there this one shows only where the sidebar is hidden (a phone)."""
    button = rx.button(
        rx.icon("square-pen", size=16),
        rx.text("New chat", display=["none", "inline"]),
        on_click=[ChatEventsState.new_chat, NativeChatState.new_chat],
        variant="soft",
        size="2",
        aria_label="New chat",
        data_testid="top-new-chat",
    )
    beside_sidebar = rx.box(button, display=["block", "block", "none"])
    mode = get_settings().chatkit_ui_mode
    if mode == "native":
        return beside_sidebar
    if mode == "chatkit":
        return button
    return rx.cond(SCRIPT_FAILED, beside_sidebar, button)


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


def history_button() -> rx.Component:
    """On a phone, the native chat's history opens from the top bar (its drawer's button)
    rather than from a row of its own above the messages; nothing where ChatKit's UI,
    which has its own history, is shown."""
    mode = get_settings().chatkit_ui_mode
    if mode == "native":
        return history_drawer()
    if mode == "chatkit":
        return rx.fragment()
    return rx.cond(SCRIPT_FAILED, history_drawer(), rx.fragment())


def top_bar(*, with_history: bool = False) -> rx.Component:
    return rx.hstack(
        history_button() if with_history else rx.fragment(),
        brand_mark(),
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
        new_chat_button(),
        session_indicator(),
        account_menu(),
        width="100%",
        align="center",
        spacing="3",
        padding="10px 16px",
        border_bottom="1px solid var(--gray-a5)",
        background="var(--color-background)",
        data_testid="top-bar",
    )


def chat_area(
    workflow_id: rx.Var[str] | str = "", thread_id: rx.Var[str] | str = "", *, history_in_top_bar: bool = False
) -> rx.Component:
    """ChatKit's UI, the native one, or (auto) ChatKit until its script fails to load,
    then the native UI in its place: same session, same thread. `thread_id`: the thread
    the address names (`/c/{thread_id}`); `history_in_top_bar`: the page's `top_bar`
    holds the native chat's history button on a phone."""
    mode = get_settings().chatkit_ui_mode
    own_button = not history_in_top_bar
    if mode == "native":
        return rx.box(
            native_chat(thread_id=thread_id, workflow_id=workflow_id, history_button=own_button),
            flex="1",
            width="100%",
            min_height="0",
            data_testid="chat-area",
        )
    if mode == "chatkit":
        return chatkit_area(workflow_id, thread_id)
    return rx.cond(
        SCRIPT_FAILED,
        rx.box(
            # The thread the address names, else the one ChatKit had open.
            native_chat(
                thread_id=_either(thread_id, ChatEventsState.thread_id),
                workflow_id=workflow_id,
                history_button=own_button,
            ),
            flex="1",
            width="100%",
            min_height="0",
            data_testid="chat-area",
            data_fallback="native",
        ),
        chatkit_area(workflow_id),
    )


def _either(first: rx.Var[str] | str, second: rx.Var[str] | str) -> rx.Var[str] | str:
    if isinstance(first, rx.Var):
        return rx.cond(first != "", first, second).to(str)
    return first or second


def chatkit_area(workflow_id: rx.Var[str] | str = "", thread_id: rx.Var[str] | str = "") -> rx.Component:
    return rx.box(
        chatkit_widget(
            workflow_id,
            initial_thread=thread_id if isinstance(thread_id, rx.Var) or thread_id else None,
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
            on_command=ChatEventsState.on_command,
            entity_preview=topic_preview,
            tag_search=topic_search,
        ),
        # ChatKit's script is loading (or being tried, in auto mode): the chat's shape, not a blank.
        rx.cond(
            ~ChatEventsState.ready & ~SCRIPT_FAILED,
            rx.box(chat_skeleton(), position="absolute", inset="0", background="var(--color-background)", z_index="1"),
        ),
        position="relative",
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
        data_command=ChatEventsState.last_command,
        data_color_scheme=ChatEventsState.color_scheme,
        data_script_status=ChatEventsState.script_status,
    )


def _frame(*children: rx.Component) -> rx.Component:
    """The whole page in the chat's colour scheme and accent (the top bar included)."""
    return rx.flex(
        favicon(),
        *children,
        direction="column",
        height="100vh",
        width="100%",
        class_name=page_scheme_class(),
        style=page_accent_style(),
        background="var(--color-background)",
        color="var(--gray-12)",
        data_testid="page",
    )


def index(thread_id: rx.Var[str] | str = "") -> rx.Component:
    """`/`, a new chat; `/c/{thread_id}` (`thread_page`) with that thread open."""
    return _frame(
        top_bar(with_history=True),
        rx.box(error_callout(), script_failure(), width="100%", max_width="960px", margin_x="auto", padding_x="3"),
        chat_area(thread_id=thread_id, history_in_top_bar=True),
    )


def embed() -> rx.Component:
    """`/embed/{workflow_id}`: the chat alone, for an iframe on another site (allowed by
    CHATKIT_EMBED_ORIGINS)."""
    workflow_id: rx.Var[str] = getattr(rx.State, "workflow_id")  # the route argument  # noqa: B009
    return _frame(
        rx.box(error_callout(), script_failure(), width="100%", padding_x="3"),
        chat_area(workflow_id),
    )
