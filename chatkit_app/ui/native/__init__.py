"""The native chat UI: Reflex components over our own ChatKit server (no CDN, no key)."""

from chatkit_app.ui.native.attachment_view import attachment_chip
from chatkit_app.ui.native.banners import banners
from chatkit_app.ui.native.chat import native_chat
from chatkit_app.ui.native.composer_view import attach_button, composer
from chatkit_app.ui.native.history_client import thread_url
from chatkit_app.ui.native.history_view import history_drawer, history_skeleton, thread_sidebar
from chatkit_app.ui.native.message_view import message, message_actions, message_list
from chatkit_app.ui.native.model_picker import model_picker
from chatkit_app.ui.native.start_view import start_screen
from chatkit_app.ui.native.state import NativeChatState
from chatkit_app.ui.native.thread_entry_view import delete_dialog, thread_entry
from chatkit_app.ui.native.thread_status_view import message_skeleton, thread_area, thread_not_found
from chatkit_app.ui.native.widget_view import widget, widget_element
from chatkit_app.ui.native.workflow_view import workflow_block

__all__ = [
    "NativeChatState",
    "attach_button",
    "attachment_chip",
    "banners",
    "composer",
    "delete_dialog",
    "history_drawer",
    "history_skeleton",
    "message",
    "message_actions",
    "message_list",
    "message_skeleton",
    "model_picker",
    "native_chat",
    "start_screen",
    "thread_area",
    "thread_entry",
    "thread_not_found",
    "thread_sidebar",
    "thread_url",
    "widget",
    "widget_element",
    "workflow_block",
]
