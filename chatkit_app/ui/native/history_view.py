"""The chat history: the sidebar on a wide screen, a drawer on a phone."""

from __future__ import annotations

from typing import Any

import reflex as rx

from chatkit_app.ui.native.look import scheme_class, small_icon_button
from chatkit_app.ui.native.state import NativeChatState


def thread_entry(thread: Any) -> rx.Component:
    active = thread["id"] == NativeChatState.thread_id
    return rx.hstack(
        rx.button(
            rx.text(
                thread["title"],
                white_space="nowrap",
                overflow="hidden",
                text_overflow="ellipsis",
                text_align="left",
                width="100%",
            ),
            on_click=NativeChatState.open_thread(thread["id"]),
            variant=rx.cond(active, "soft", "ghost"),
            color_scheme="gray",
            justify="start",
            flex="1",
            min_width="0",
            overflow="hidden",
            title=thread["title"],
            aria_current=rx.cond(active, "page", "false"),
        ),
        rx.popover.root(
            rx.popover.trigger(small_icon_button("pencil", "Rename chat")),
            rx.popover.content(
                rx.form(
                    rx.hstack(
                        # The form's submit handler is built outside the loop: the id rides along.
                        rx.el.input(type="hidden", name="thread_id", value=thread["id"]),
                        rx.input(name="title", default_value=thread["title"], aria_label="New title", max_length=120),
                        rx.popover.close(rx.button("Save", type="submit", size="2")),
                    ),
                    on_submit=NativeChatState.rename_thread,
                ),
                side="right",
                # Drawn in a portal outside the chat's root: the same theme is applied here.
                class_name=scheme_class(),
                style=NativeChatState.theme_style,
            ),
        ),
        small_icon_button("trash-2", "Delete chat", on_click=NativeChatState.delete_thread(thread["id"])),
        width="100%",
        align="center",
        data_testid="thread-entry",
    )


def history_drawer() -> rx.Component:
    """The history on a phone, where the sidebar has no room: a button and a drawer."""
    return rx.box(
        rx.drawer.root(
            rx.drawer.trigger(rx.icon_button(rx.icon("history", size=16), variant="soft", aria_label="Chat history")),
            rx.drawer.overlay(),
            rx.drawer.portal(
                rx.drawer.content(
                    _history(on_pick=rx.drawer.close),
                    width="80vw",
                    max_width="300px",
                    height="100%",
                    padding="12px",
                    background="var(--color-panel-solid)",
                )
            ),
            direction="left",
        ),
        display=["block", "block", "none"],
    )


def _history(on_pick: Any = None) -> rx.Component:
    def entry(thread: Any) -> rx.Component:
        return rx.box(thread_entry(thread), width="100%") if on_pick is None else on_pick(thread_entry(thread))

    return rx.vstack(
        rx.button(rx.icon("plus", size=16), "New chat", on_click=NativeChatState.new_chat, width="100%"),
        rx.text("History", size="1", weight="medium", color_scheme="gray", padding_top="8px"),
        rx.vstack(
            rx.foreach(NativeChatState.threads, entry),
            width="100%",
            spacing="1",
            overflow_y="auto",
            flex="1",
            data_testid="thread-list",
            role="list",
            aria_label="Chat history",
        ),
        width="100%",
        height="100%",
    )


def thread_sidebar() -> rx.Component:
    return rx.box(
        _history(),
        width="240px",
        min_width="240px",
        height="100%",
        padding="12px",
        border_right="1px solid var(--gray-a5)",
        display=["none", "none", "block"],
    )
