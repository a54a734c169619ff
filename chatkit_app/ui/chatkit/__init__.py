"""ChatKit's React component in Reflex: `chatkit_widget` and the imperative methods."""

from chatkit_app.ui.chatkit.component import EVENT_NAMES, chatkit_widget
from chatkit_app.ui.chatkit.methods import (
    fetch_updates,
    focus_composer,
    hide_history,
    send_custom_action,
    send_user_message,
    set_composer_value,
    set_thread,
    show_history,
)

__all__ = [
    "EVENT_NAMES",
    "chatkit_widget",
    "fetch_updates",
    "focus_composer",
    "hide_history",
    "send_custom_action",
    "send_user_message",
    "set_composer_value",
    "set_thread",
    "show_history",
]
