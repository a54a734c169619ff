"""`server_watch()`: says when the server is up but cannot act (its Redis, database or file
storage is down), from `/readyz`, and finishes what waited once it is back
(`server_watch.jsx` explains how)."""

from __future__ import annotations

import reflex as rx

from chatkit_app.ui.native.connection_view import CONNECTED
from chatkit_app.ui.native.edit_state import COMPOSER_ID
from chatkit_app.ui.native.state import NativeChatState

STYLE = {
    "& .native-service-status": {
        "width": "100%",
        "padding": "10px 12px",
        "border_radius": "var(--radius-3)",
        "background": "var(--amber-a3)",
        "color": "var(--amber-11)",
        "font_size": "var(--font-size-2)",
    },
}


class ServerWatch(rx.Component):
    library = rx.asset("server_watch.jsx", shared=True).importable_path
    tag = "ServerWatch"

    connected: rx.Var[bool]
    waiting: rx.Var[bool]
    composer_id: rx.Var[str]


def server_watch() -> rx.Component:
    waiting = NativeChatState.history_loading | NativeChatState.opening
    return rx.box(
        ServerWatch.create(connected=CONNECTED, waiting=waiting, composer_id=COMPOSER_ID),
        style=STYLE,
        width="100%",
        display="contents",
    )
