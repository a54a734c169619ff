"""The bounded window in the page: "Load earlier messages" at the top of the list (also
triggered by scrolling near it) and "Show the whole message" under a cut message."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.event import no_args_event_spec

from chatkit_app.ui.native.state import NativeChatState
from chatkit_app.ui.native.window import MAX_KEPT


class EarlierSentinel(rx.NoSSRComponent):
    """A marker at the top of the list (`sentinel.jsx`): scrolled near, it fires
    `on_visible` once per arrival, from the browser, with no event per scroll."""

    library = rx.asset("sentinel.jsx", shared=True).importable_path
    tag = "EarlierSentinel"

    active: rx.Var[bool]
    on_visible: rx.EventHandler[no_args_event_spec]


def earlier_control() -> rx.Component:
    """Older messages on demand; the list keeps its place because it is anchored at its
    bottom (`message_list`), so messages added above do not move what is on screen."""
    load = NativeChatState.load_earlier(NativeChatState.first_message_id)
    return rx.fragment(
        EarlierSentinel.create(active=NativeChatState.has_earlier & ~NativeChatState.window_full, on_visible=load),
        rx.cond(
            NativeChatState.has_earlier,
            rx.cond(
                NativeChatState.window_full,
                rx.text(
                    f"Only the newest {MAX_KEPT} messages are shown here.",
                    size="1",
                    color_scheme="gray",
                    text_align="center",
                    data_testid="window-full",
                ),
                rx.button(
                    rx.icon("chevrons-up", size=14),
                    "Load earlier messages",
                    on_click=load,
                    variant="ghost",
                    color_scheme="gray",
                    size="1",
                    align_self="center",
                    data_testid="load-earlier",
                ),
            ),
        ),
    )


def whole_message_button(msg: Any) -> rx.Component:
    """Under a message cut to its first characters: its whole text, on request."""
    return rx.cond(
        msg.truncated,
        rx.button(
            "Show the whole message",
            on_click=NativeChatState.show_whole(msg.id),
            variant="ghost",
            size="1",
            data_testid="show-whole",
        ),
    )
