"""One thread in the history: its title (opens it), rename in place (the pencil turns the
title into a field, so it works inside the phone's drawer too) and delete, which asks
first in a dialog drawn once for the whole history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx

from chatkit_app.ui.native.history_client import title_input
from chatkit_app.ui.native.look import scheme_class, small_icon_button
from chatkit_app.ui.native.state import NativeChatState

Wrap = Callable[[rx.Component], rx.Component]


def thread_entry(thread: Any, pick: Wrap | None = None) -> rx.Component:
    """`thread` is a `ThreadEntry` var; `pick` wraps the title button (the drawer closes
    when a thread is picked, not when it is renamed or deleted)."""
    active = thread.id == NativeChatState.thread_id
    title = rx.button(
        rx.text(
            thread.title,
            white_space="nowrap",
            overflow="hidden",
            text_overflow="ellipsis",
            text_align="left",
            width="100%",
            weight=rx.cond(active, "medium", "regular"),
        ),
        on_click=NativeChatState.open_thread(thread.id),
        variant=rx.cond(active, "soft", "ghost"),
        color_scheme="gray",
        justify="start",
        margin="0",  # a ghost button's outset and padding differ from the active (soft) one's
        padding_x="10px",
        flex="1",
        min_width="0",
        overflow="hidden",
        title=thread.title,
        aria_current=rx.cond(active, "page", "false"),
        data_testid="thread-title",
    )
    return rx.el.li(
        rx.cond(
            NativeChatState.renaming_id == thread.id,
            title_input(thread),
            rx.hstack(
                title if pick is None else pick(title),
                small_icon_button("pencil", "Rename chat", on_click=NativeChatState.start_rename(thread.id)),
                small_icon_button("trash-2", "Delete chat", on_click=NativeChatState.ask_delete(thread.id)),
                width="100%",
                align="center",
                spacing="1",
            ),
        ),
        list_style="none",
        width="100%",
        data_testid="thread-entry",
        data_active=rx.cond(active, "true", "false"),
    )


def delete_dialog() -> rx.Component:
    """ "Delete chat?" for the thread whose trash button was pressed; drawn once (outside
    the drawer, which stays open beneath it)."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete chat?"),
            rx.alert_dialog.description(
                rx.text.strong(NativeChatState.delete_title),
                " and its messages will be deleted. This cannot be undone.",
            ),
            rx.flex(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button("Delete", color_scheme="red", on_click=NativeChatState.confirm_delete)
                ),
                gap="3",
                justify="end",
                margin_top="16px",
            ),
            max_width="420px",
            # Drawn in a portal outside the chat's root: the same theme is applied here.
            class_name=scheme_class(),
            style=NativeChatState.theme_style,
            data_testid="delete-dialog",
        ),
        open=NativeChatState.delete_id != "",
        on_open_change=NativeChatState.delete_dialog_open,
    )
