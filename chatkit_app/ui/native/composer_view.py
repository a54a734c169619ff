"""The composer: the message box, attachments, model picker, send and stop."""

from __future__ import annotations

import mimetypes

import reflex as rx

from chatkit_app.chatkit_server.files import ALLOWED_TYPES
from chatkit_app.settings import get_settings
from chatkit_app.ui.native.attachment_view import attachment_chip
from chatkit_app.ui.native.edit_state import COMPOSER_ID
from chatkit_app.ui.native.look import scheme_class, ui_option
from chatkit_app.ui.native.message_view import LIST_END
from chatkit_app.ui.native.model_picker import model_picker
from chatkit_app.ui.native.state import NativeChatState
from chatkit_app.ui.native.turn_error_view import editing_bar

UPLOAD_ID = "native-attachments"


def _limits_text() -> str:
    megabytes = get_settings().chatkit_max_upload_bytes / (1024 * 1024)
    return f"Images, PDF, text, CSV, JSON or Markdown, up to {megabytes:g} MB (all files of one pick together)"


def _accept() -> dict[str, list[str]]:
    return {mime: mimetypes.guess_all_extensions(mime) or [] for mime in sorted(ALLOWED_TYPES)}


def attach_button() -> rx.Component:
    """Pick files (or drop them on the button); limits are checked in the browser first
    and again, by sniffing the bytes, on the server."""
    return rx.upload.root(
        rx.tooltip(
            rx.icon_button(
                rx.cond(NativeChatState.uploading, rx.spinner(size="2"), rx.icon("paperclip", size=18)),
                type="button",
                size="3",
                variant="soft",
                color_scheme="gray",
                aria_label="Attach files",
            ),
            content=_limits_text(),
        ),
        id=UPLOAD_ID,
        multiple=True,
        max_size=get_settings().chatkit_max_upload_bytes,
        accept=_accept(),
        on_drop=NativeChatState.attach(
            rx.upload_files(upload_id=UPLOAD_ID, on_upload_progress=NativeChatState.upload_progress)  # type: ignore[arg-type]
        ),
        on_drop_rejected=NativeChatState.upload_rejected,
        border="none",
        padding="0",
    )


def pending_attachments() -> rx.Component:
    return rx.cond(
        NativeChatState.has_pending | NativeChatState.uploading,
        rx.flex(
            rx.foreach(NativeChatState.pending, lambda a: attachment_chip(a, removable=True)),
            rx.cond(
                NativeChatState.uploading,
                rx.text("Uploading… ", NativeChatState.upload_percent, "%", size="1", color_scheme="gray"),
            ),
            gap="6px",
            wrap="wrap",
            width="100%",
            data_testid="pending-attachments",
        ),
    )


def composer() -> rx.Component:
    return rx.form(
        # Sent with the text: the thread it was written in, its draft id, the message it edits.
        rx.el.input(type="hidden", name="thread_id", value=NativeChatState.thread_id),
        rx.el.input(type="hidden", name="draft", value=NativeChatState.draft_id),
        rx.el.input(type="hidden", name="edit_of", value=NativeChatState.editing_id),
        editing_bar(),
        pending_attachments(),
        model_picker(portal_class=scheme_class(), portal_style=NativeChatState.theme_style),
        rx.hstack(
            attach_button(),
            rx.text_area(
                name="message",
                id=COMPOSER_ID,
                placeholder=ui_option("composer", "placeholder").to(str),
                enter_key_submit=True,
                auto_focus=True,
                rows="1",
                resize="vertical",
                flex="1",
                size="3",
                data_testid="composer-input",
                aria_label="Message",
            ),
            rx.cond(
                NativeChatState.streaming,
                rx.icon_button(
                    rx.icon("square", size=16),
                    on_click=NativeChatState.stop,
                    type="button",
                    size="3",
                    color_scheme="gray",
                    aria_label="Stop",
                    data_testid="stop-button",
                ),
                rx.icon_button(rx.icon("arrow-up", size=18), type="submit", size="3", aria_label="Send"),
            ),
            width="100%",
            align="end",
        ),
        # Sending shows the newest messages (a reader scrolled up sees the turn it starts).
        on_submit=[NativeChatState.send, rx.scroll_to(LIST_END, align_to_top=False)],
        reset_on_submit=False,  # the server clears the box once it has the message (not while offline)
        width="100%",
    )
