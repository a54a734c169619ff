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
from chatkit_app.ui.native.model_picker import model_picker
from chatkit_app.ui.native.state import NativeChatState
from chatkit_app.ui.native.workflow_view import workflow_block

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
    "model_picker",
    "native_chat",
    "start_screen",
    "thread_entry",
    "thread_sidebar",
    "widget",
    "widget_element",
    "workflow_block",
]
