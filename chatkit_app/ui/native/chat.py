"""`native_chat()`: the whole native chat, `thread_sidebar()` + `message_list()` +
`composer()` with the start screen and banners. Each piece is a public function an app
author can reuse or replace."""

from __future__ import annotations

from typing import Any

import reflex as rx

from chatkit_app.ui.native.banners import banners
from chatkit_app.ui.native.composer_view import composer
from chatkit_app.ui.native.history_view import history_drawer, thread_sidebar
from chatkit_app.ui.native.look import scheme_class, ui_option
from chatkit_app.ui.native.message_view import message_list
from chatkit_app.ui.native.start_view import start_greeting, start_prompts
from chatkit_app.ui.native.state import NativeChatState
from chatkit_app.ui.native.thread_status_view import thread_area
from chatkit_app.ui.state import ChatSessionState


def native_chat(
    thread_id: rx.Var[str] | str = "",
    workflow_id: rx.Var[str] | str = "",
    *,
    history_button: bool = True,
    **props: Any,
) -> rx.Component:
    """The whole native chat; on mount it keeps a session of `workflow_id` (default: the
    site's) and opens `thread_id` (e.g. the one ChatKit had open before the switch).
    `history_button=False` when the page puts `history_drawer()` (the history on a phone)
    in its own top bar instead of a row above the messages."""
    disclaimer = ui_option("disclaimer", "text").to(str)
    # A failed first message (e.g. refused and removed) still shows its card in the list.
    started = NativeChatState.has_messages | NativeChatState.failed
    in_thread = started | NativeChatState.opening | NativeChatState.not_found
    return rx.hstack(
        thread_sidebar(),
        rx.vstack(
            history_drawer() if history_button else rx.fragment(),
            banners(),
            # One composer: centred between the greeting and the prompts on the start
            # screen, at the bottom under the messages once the chat has begun.
            rx.flex(
                # Or a skeleton while a thread opens, or "not found" for an address.
                thread_area(rx.cond(started, message_list(), start_greeting())),
                composer(),
                rx.cond(in_thread, rx.fragment(), start_prompts()),
                direction="column",
                justify=rx.cond(in_thread, "end", "center"),
                gap=rx.cond(in_thread, "12px", "24px"),
                flex="1",
                min_height="0",
                width="100%",
            ),
            rx.cond(disclaimer, rx.text(disclaimer, size="1", color_scheme="gray", text_align="center", width="100%")),
            flex="1",
            min_width="0",
            max_width="820px",
            margin_x="auto",
            height="100%",
            padding="12px",
            spacing="3",
        ),
        on_mount=[ChatSessionState.ensure_session(workflow_id), NativeChatState.load(thread_id)],
        class_name=scheme_class(),
        style=NativeChatState.theme_style,
        background="var(--color-background)",
        color="var(--gray-12)",
        width="100%",
        height="100%",
        spacing="0",
        data_testid="native-chat",
        **props,
    )
