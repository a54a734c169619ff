"""The chat history: the sidebar on a wide screen, a drawer on a phone. Threads under
date headings, a search over all of them, more pages as the list is scrolled."""

from __future__ import annotations

from typing import Any

import reflex as rx

from chatkit_app.ui.native.history_client import search_input, thread_url
from chatkit_app.ui.native.look import scheme_class
from chatkit_app.ui.native.state import NativeChatState
from chatkit_app.ui.native.thread_entry_view import Wrap, delete_dialog, thread_entry
from chatkit_app.ui.native.window_view import EarlierSentinel

SEARCHING = NativeChatState.search.strip() != ""


def history_skeleton(rows: int = 6) -> rx.Component:
    """Rows the shape of the history while its first page loads."""
    return rx.vstack(
        rx.skeleton(height="12px", width="64px", margin_top="6px"),
        *(rx.skeleton(height="28px", width=f"{90 - (n % 3) * 15}%") for n in range(rows)),
        width="100%",
        spacing="2",
        aria_busy="true",
        aria_label="Loading chats",
        data_testid="history-skeleton",
    )


def _group(group: Any, pick: Wrap | None) -> rx.Component:
    return rx.box(
        rx.text(group.label, size="1", weight="medium", color_scheme="gray", padding="10px 12px 4px"),
        rx.el.ul(
            rx.foreach(group.threads, lambda thread: thread_entry(thread, pick)),
            aria_label=group.label,
            padding="0",
            margin="0",
            display="flex",
            flex_direction="column",
            gap="2px",
        ),
        width="100%",
        data_testid="history-group",
    )


def _list_end() -> rx.Component:
    """More threads: fetched when the end of the list scrolls into view, or on a press;
    while searching, a note when there may be more matches than shown."""
    return rx.cond(
        SEARCHING,
        rx.cond(
            NativeChatState.thread_groups.length() == 0,
            rx.text("No chats match.", size="2", color_scheme="gray", padding="8px", data_testid="no-matches"),
            rx.cond(
                NativeChatState.search_capped,
                rx.text("Only the first matches are shown.", size="1", color_scheme="gray", padding="8px"),
            ),
        ),
        rx.cond(
            NativeChatState.has_more_threads,
            rx.fragment(
                EarlierSentinel.create(
                    active=NativeChatState.has_more_threads, on_visible=NativeChatState.more_threads
                ),
                rx.button(
                    "Show more",
                    on_click=NativeChatState.more_threads,
                    variant="ghost",
                    color_scheme="gray",
                    size="1",
                    align_self="center",
                    data_testid="history-more",
                ),
            ),
        ),
    )


def _history(pick: Wrap | None = None) -> rx.Component:
    new_chat = rx.button(rx.icon("plus", size=16), "New chat", on_click=NativeChatState.new_chat, width="100%")
    return rx.vstack(
        new_chat if pick is None else rx.drawer.close(new_chat, width="100%"),
        search_input(),
        rx.box(
            rx.cond(
                NativeChatState.history_loading,
                history_skeleton(),
                rx.fragment(
                    rx.foreach(NativeChatState.thread_groups, lambda group: _group(group, pick)),
                    _list_end(),
                ),
            ),
            width="100%",
            flex="1",
            min_height="0",
            overflow_y="auto",
            display="flex",
            flex_direction="column",
            role="navigation",
            aria_label="Chat history",
            data_testid="thread-list",
        ),
        width="100%",
        height="100%",
        spacing="2",
    )


def _closes_drawer(button: rx.Component) -> rx.Component:
    """Picking a thread closes the drawer; the wrapper takes the room the title would."""
    return rx.drawer.close(button, flex="1", min_width="0", width="100%")


def history_drawer() -> rx.Component:
    """The history on a phone, where the sidebar has no room: a button and a drawer."""
    return rx.box(
        rx.drawer.root(
            rx.drawer.trigger(rx.icon_button(rx.icon("history", size=16), variant="soft", aria_label="Chat history")),
            rx.drawer.overlay(),
            rx.drawer.portal(
                rx.drawer.content(
                    _history(pick=_closes_drawer),
                    width="85vw",
                    max_width="320px",
                    height="100%",
                    padding="12px",
                    background="var(--color-panel-solid)",
                    # Drawn in a portal outside the chat's root: the same scheme and accent here.
                    class_name=scheme_class(),
                    style=NativeChatState.theme_style,
                    data_testid="history-drawer",
                )
            ),
            direction="left",
        ),
        display=["block", "block", "none"],
    )


def thread_sidebar() -> rx.Component:
    """The history beside the chat on a wide screen. It also holds what exists once per
    page whatever the width: the delete confirmation (a portal) and the address bar's
    follower."""
    return rx.box(
        rx.box(_history(), height="100%", display=["none", "none", "block"]),
        delete_dialog(),
        thread_url(),
        width=["0", "0", "260px"],
        min_width=["0", "0", "260px"],
        height="100%",
        padding=["0", "0", "12px"],
        border_right=["none", "none", "1px solid var(--gray-a5)"],
    )
