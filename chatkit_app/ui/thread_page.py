"""`/c/{chat_id}`: the chat page with one of the visitor's threads open. The address is
only a pointer: the thread is read with the visitor's own session, so another user's id
(or an unknown one) shows the native chat's "not found" and nothing else."""

from __future__ import annotations

import reflex as rx

from chatkit_app.ui.pages import index

ROUTE = "/c/[chat_id]"


def thread_page() -> rx.Component:
    chat_id: rx.Var[str] = getattr(rx.State, "chat_id")  # the route argument  # noqa: B009
    return index(thread_id=chat_id)
