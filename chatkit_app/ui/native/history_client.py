"""The history's browser-side parts (`history.jsx`): the address bar that follows the
thread shown, and the inline rename field."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.event import no_args_event_spec, passthrough_event_spec

from chatkit_app.ui.native.history_state import MAX_TITLE
from chatkit_app.ui.native.state import NativeChatState

# Bundled with the page, not lazily: back/forward and the claim work from the first paint.
_LIBRARY = rx.asset("history.jsx", shared=True).importable_path


class ThreadUrl(rx.Component):
    """Draws nothing; pushes `path` to the address bar while `owner` is this page's id."""

    library = _LIBRARY
    tag = "ThreadUrl"

    path: rx.Var[str]
    owner: rx.Var[str]
    # Event triggers as `rx.EventHandler[<event spec>]`, which only pyright reads.
    on_claim: rx.EventHandler[passthrough_event_spec(str, str, int)]  # type: ignore[type-arg,valid-type]
    on_visit: rx.EventHandler[passthrough_event_spec(str)]  # type: ignore[type-arg,valid-type]


class TitleInput(rx.Component):
    """A title field that saves on Enter or blur and cancels on Escape."""

    library = _LIBRARY
    tag = "TitleInput"

    value: rx.Var[str]
    label: rx.Var[str]
    max_length: rx.Var[int]
    on_save: rx.EventHandler[passthrough_event_spec(str)]  # type: ignore[type-arg,valid-type]
    on_cancel: rx.EventHandler[no_args_event_spec]  # type: ignore[type-arg,valid-type]


class SearchInput(rx.Component):
    """A search field that reports its text once typing pauses for `delay_ms`."""

    library = _LIBRARY
    tag = "SearchInput"

    value: rx.Var[str]
    label: rx.Var[str]
    placeholder: rx.Var[str]
    delay_ms: rx.Var[int]
    on_search: rx.EventHandler[passthrough_event_spec(str)]  # type: ignore[type-arg,valid-type]


def search_input() -> rx.Component:
    return SearchInput.create(
        value=NativeChatState.search,
        label="Search chats",
        placeholder="Search chats",
        delay_ms=300,
        on_search=NativeChatState.search_threads,
        data_testid="history-search",
    )


def thread_url() -> rx.Component:
    """Keeps the address bar on `/c/{thread_id}` of the thread shown (`/` for a new chat)."""
    return ThreadUrl.create(
        path=NativeChatState.url_path,
        owner=NativeChatState.url_owner,
        on_claim=NativeChatState.claim_url,
        on_visit=NativeChatState.follow_url,
    )


def title_input(thread: Any) -> rx.Component:
    return TitleInput.create(
        value=thread.title,
        label="New title",
        max_length=MAX_TITLE,
        on_save=NativeChatState.save_title(thread.id),
        on_cancel=NativeChatState.cancel_rename,
    )
