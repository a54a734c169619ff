"""What the message area shows instead of a thread: a skeleton while one opens (and on
first paint), and "not found" for an address that names no thread of the visitor's."""

from __future__ import annotations

import reflex as rx

from chatkit_app.ui.native.state import NativeChatState


def _bubble(width: str, *, mine: bool) -> rx.Component:
    return rx.skeleton(
        height="18px" if mine else "64px",
        width=width,
        align_self="flex-end" if mine else "flex-start",
        border_radius="12px",
    )


def message_skeleton() -> rx.Component:
    """The shape of a conversation while a thread loads (`NativeChatState.opening`). It
    fades in only after a moment, so a quick open does not flash."""
    return rx.vstack(
        _bubble("40%", mine=True),
        _bubble("85%", mine=False),
        _bubble("30%", mine=True),
        _bubble("70%", mine=False),
        width="100%",
        flex="1",
        spacing="5",
        padding_top="16px",
        animation="rt-fade-in 200ms ease-out 250ms both",
        aria_busy="true",
        aria_label="Loading the chat",
        data_testid="thread-skeleton",
    )


def thread_not_found() -> rx.Component:
    """The same page for a deleted thread, a mistyped address and another user's thread:
    nothing says which, or that such a thread exists."""
    return rx.center(
        rx.vstack(
            rx.icon("message-square-off", size=36, color="var(--gray-9)"),
            rx.heading("Chat not found", size="5", as_="h1"),
            rx.text(
                "There is no chat at this address for you. It may have been deleted, or the link is wrong.",
                color_scheme="gray",
                text_align="center",
                max_width="360px",
            ),
            rx.button(rx.icon("plus", size=16), "Start a new chat", on_click=NativeChatState.new_chat, size="3"),
            align="center",
            spacing="3",
        ),
        flex="1",
        width="100%",
        role="alert",
        data_testid="thread-not-found",
    )


def thread_area(messages: rx.Component) -> rx.Component:
    """`messages` (the list or the start screen), or what shows instead of it."""
    return rx.cond(
        NativeChatState.not_found,
        thread_not_found(),
        rx.cond(NativeChatState.opening, message_skeleton(), messages),
    )
