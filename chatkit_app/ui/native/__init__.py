"""The native chat UI: Reflex components over our own ChatKit server (no CDN, no key)."""

from chatkit_app.ui.native.components import (
    attach_button,
    attachment_chip,
    banners,
    composer,
    history_drawer,
    message,
    message_actions,
    message_list,
    native_chat,
    start_screen,
    thread_entry,
    thread_sidebar,
    widget,
    widget_element,
)
from chatkit_app.ui.native.state import NativeChatState

__all__ = [
    "NativeChatState",
    "attach_button",
    "attachment_chip",
    "banners",
    "composer",
    "history_drawer",
    "message",
    "message_actions",
    "message_list",
    "native_chat",
    "start_screen",
    "thread_entry",
    "thread_sidebar",
    "widget",
    "widget_element",
]
