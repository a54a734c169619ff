"""The conversation: messages by role, their actions, the list that scrolls."""

from __future__ import annotations

from typing import Any

import reflex as rx

from chatkit_app.ui.native.attachment_view import attachment_chip
from chatkit_app.ui.native.look import small_icon_button
from chatkit_app.ui.native.markdown import CopyButton, safe_markdown
from chatkit_app.ui.native.questions_view import questions_block
from chatkit_app.ui.native.state import NativeChatState
from chatkit_app.ui.native.turn_error_view import edit_button, turn_failure_card
from chatkit_app.ui.native.widget_view import widget
from chatkit_app.ui.native.window_view import earlier_control, whole_message_button
from chatkit_app.ui.native.workflow_view import workflow_block


def message(msg: Any) -> rx.Component:
    return rx.match(
        msg.role,
        ("widget", widget(msg)),
        ("workflow", workflow_block(msg)),
        ("questions", questions_block(msg)),
        _text_message(msg),
    )


def _text_message(msg: Any) -> rx.Component:
    return rx.cond(
        msg.role == "user",
        rx.vstack(
            rx.cond(
                msg.attachments.length() > 0,
                rx.flex(
                    rx.foreach(msg.attachments, lambda a: attachment_chip(a)),
                    gap="6px",
                    wrap="wrap",
                    justify="end",
                ),
            ),
            rx.cond(
                msg.text != "",
                rx.box(
                    rx.text(msg.text, white_space="pre-wrap", overflow_wrap="anywhere"),
                    data_testid="user-message",
                    padding="8px 14px",
                    border_radius="16px",
                    background="var(--accent-a3)",
                    max_width="100%",
                ),
            ),
            whole_message_button(msg),
            edit_button(msg),
            align_self="flex-end",
            align="end",
            max_width="80%",
            min_width="0",
            flex_shrink="0",
            spacing="1",
        ),
        rx.vstack(
            rx.box(safe_markdown(msg.text), data_testid="assistant-message", width="100%", min_width="0"),
            whole_message_button(msg),
            rx.cond(
                ~NativeChatState.streaming | (msg.id != NativeChatState.last_message_id),
                message_actions(msg),
            ),
            align_self="flex-start",
            width="100%",
            min_width="0",
            flex_shrink="0",
            spacing="1",
        ),
    )


def _feedback_button(msg: Any, kind: str, icon: str, label: str) -> rx.Component:
    chosen = msg.feedback == kind
    return rx.icon_button(
        rx.icon(icon, size=14),
        on_click=NativeChatState.feedback(msg.id, kind),
        variant=rx.cond(chosen, "soft", "ghost"),
        color_scheme=rx.cond(chosen, "blue", "gray"),
        size="1",
        aria_label=label,
        aria_pressed=rx.cond(chosen, "true", "false"),
    )


COPY_ACTION_STYLE = {
    "display": "inline-flex",
    "align-items": "center",
    "justify-content": "center",
    "width": "24px",
    "height": "24px",
    "border": "none",
    "border-radius": "max(var(--radius-1), 4px)",
    "background": "transparent",
    "color": "var(--gray-11)",
    "cursor": "pointer",
    "&:hover": {"background": "var(--gray-a3)"},
    "&:focus-visible": {"outline": "2px solid var(--focus-8)", "outline-offset": "1px"},
    "&[data-copied=true]": {"color": "var(--green-11)"},
}


def copy_action(msg: Any) -> rx.Component:
    """Copies the answer's Markdown, in the browser (no event to the server)."""
    return CopyButton.create(text=msg.text, label="Copy answer", style=COPY_ACTION_STYLE, data_testid="copy-answer")


def message_actions(msg: Any) -> rx.Component:
    """Copy, thumbs up/down (stored with the item) and, on the last answer, retry."""
    return rx.hstack(
        copy_action(msg),
        _feedback_button(msg, "positive", "thumbs-up", "Good answer"),
        _feedback_button(msg, "negative", "thumbs-down", "Bad answer"),
        rx.cond(
            msg.id == NativeChatState.last_message_id,
            small_icon_button("refresh-cw", "Retry", on_click=NativeChatState.retry),
        ),
        spacing="2",
        data_testid="message-actions",
    )


LIST_END = "native-messages-end"


def answer_streaming() -> rx.Var[bool]:
    """The reply's answer has text already: the text itself shows progress, so no
    "Thinking…" under it."""
    messages: Any = NativeChatState.messages
    last = messages[-1]
    answer = (last.role == "assistant") & (last.text != "")
    started: rx.Var[bool] = (messages.length() > 0) & answer
    return started


def message_list() -> rx.Component:
    """The conversation, newest at the bottom. The scroller runs bottom-up
    (`column-reverse`): it starts at the newest message, stays there while a reply grows,
    and keeps what is on screen in place when earlier messages are added above."""
    return rx.box(
        rx.box(
            earlier_control(),
            rx.foreach(NativeChatState.messages, message),
            turn_failure_card(),
            rx.cond(
                NativeChatState.streaming & (NativeChatState.progress != ""),
                rx.hstack(rx.spinner(size="1"), rx.text(NativeChatState.progress, size="2", color_scheme="gray")),
            ),
            rx.cond(
                NativeChatState.streaming
                & (NativeChatState.progress == "")
                & ~NativeChatState.tools_running
                & ~answer_streaming(),
                rx.hstack(
                    rx.spinner(size="1"), rx.text("Thinking…", size="2", color_scheme="gray"), data_testid="thinking"
                ),
            ),
            rx.box(id=LIST_END, height="0", flex_shrink="0"),
            display="flex",
            flex_direction="column",
            gap="16px",
            width="100%",
            min_width="0",
            flex_shrink="0",  # never squeezed to the scroller's height: it scrolls instead
            margin_bottom="auto",  # few messages: at the top, as in any chat
        ),
        display="flex",
        flex_direction="column-reverse",
        overflow_anchor="none",  # the offset from the bottom keeps the place (no anchor at the top control)
        width="100%",
        flex="1",
        min_height="0",
        overflow_y="auto",
        overflow_x="hidden",  # nothing scrolls the thread sideways: wide blocks scroll inside themselves
        padding="8px 4px",
        aria_live="polite",
        data_testid="message-list",
    )
