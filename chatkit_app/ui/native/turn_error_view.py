"""The inline card under a turn that failed: what went wrong in plain words, and Retry.
Also the pencil that edits the last user message and the composer's "Editing" line."""

from __future__ import annotations

from typing import Any

import reflex as rx

from chatkit_app.ui.native.look import small_icon_button
from chatkit_app.ui.native.state import NativeChatState
from chatkit_app.ui.native.turn_failures import UNANSWERED


def turn_failure_card() -> rx.Component:
    """Under the user's message (or the part of the answer that arrived)."""
    failed = NativeChatState.failed
    title = rx.cond(failed, NativeChatState.failure.title, UNANSWERED.title)
    text = rx.cond(failed, NativeChatState.failure.message, UNANSWERED.message)
    can_retry = ~failed | NativeChatState.failure.can_retry
    return rx.cond(
        failed | NativeChatState.awaits_answer,
        rx.hstack(
            rx.icon("circle-alert", size=18, color="var(--red-11)", flex_shrink="0", margin_top="2px"),
            rx.vstack(
                rx.text(title, weight="medium", size="2"),
                rx.text(text, size="2", color="var(--gray-11)"),
                rx.cond(
                    can_retry,
                    rx.button(
                        rx.icon("refresh-cw", size=14),
                        "Retry",
                        on_click=NativeChatState.retry,
                        size="1",
                        variant="soft",
                        color_scheme="red",
                        margin_top="4px",
                        data_testid="turn-error-retry",
                    ),
                ),
                spacing="1",
                flex="1",
                min_width="0",
            ),
            align="start",
            spacing="3",
            padding="10px 12px",
            border="1px solid var(--red-a6)",
            border_radius="12px",
            background="var(--red-a2)",
            width="100%",
            max_width="560px",
            role="alert",
            data_testid="turn-error",
        ),
    )


def edit_button(msg: Any) -> rx.Component:
    """The pencil under the last user message (once it is saved)."""
    return rx.cond(
        (msg.id == NativeChatState.edit_target) & (NativeChatState.editing_id == ""),
        small_icon_button("pencil", "Edit message", on_click=NativeChatState.edit_last),
    )


def editing_bar() -> rx.Component:
    """Above the composer while it holds an edited message."""
    return rx.cond(
        NativeChatState.editing_id != "",
        rx.hstack(
            rx.icon("pencil", size=14),
            rx.text("Editing your last message: sending replaces it and its answer.", size="1"),
            rx.spacer(),
            rx.button("Cancel", on_click=NativeChatState.cancel_edit, size="1", variant="ghost", type="button"),
            width="100%",
            align="center",
            color="var(--gray-11)",
            data_testid="editing-bar",
        ),
    )
