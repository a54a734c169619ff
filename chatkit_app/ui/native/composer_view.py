"""The composer: one rounded box that grows with the text (up to a height, then it
scrolls) and holds the files waiting to be sent, the attach button, the model picker and
send/stop. Enter sends, Shift+Enter adds a line. Files can be picked or dropped anywhere
on the box; the workflow's per-type limits are checked in the browser first, and a
refused file gets a line saying why, above the box, until dismissed."""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex_components_core.core.upload import Upload

from chatkit_app.settings import get_settings
from chatkit_app.ui.native.attachment_view import attachment_chip
from chatkit_app.ui.native.command_menu import command_menu
from chatkit_app.ui.native.edit_state import COMPOSER_ID
from chatkit_app.ui.native.look import scheme_class, small_icon_button, ui_option
from chatkit_app.ui.native.message_view import LIST_END
from chatkit_app.ui.native.model_picker import model_picker
from chatkit_app.ui.native.state import NativeChatState
from chatkit_app.ui.native.turn_error_view import editing_bar

UPLOAD_ID = "native-attachments"
INPUT_MAX_HEIGHT = "200px"
# react-dropzone's `validator`: a file over its own type's limit (`attach_sizes`, by type
# or, when the browser knows no type, by extension). Called while dragging too, with items
# that have no name or size yet.
_PER_TYPE_CHECK = (
    "((sizes) => (file) => { const name = (file && file.name) || ''; const dot = name.lastIndexOf('.');"
    " const limit = sizes[file.type] ?? sizes[dot >= 0 ? name.slice(dot).toLowerCase() : ''];"
    " return typeof file.size === 'number' && limit !== undefined && file.size > limit"
    " ? {code: 'file-too-large', message: 'over its type limit'} : null; })"
)
# The hidden file input of the dropzone around the composer (clicks on the box itself
# do not open the picker: it holds the text box).
_OPEN_PICKER = "(e) => e.currentTarget.closest('.rx-Upload')?.querySelector('input[type=file]')?.click()"


class LimitedUpload(Upload):  # type: ignore[misc]
    """Reflex's dropzone with react-dropzone's per-file `validator` as a prop."""

    validator: rx.Var[Any]

    @classmethod
    def create(cls, *children: Any, **props: Any) -> rx.Component:
        Upload.is_used = True  # what makes Reflex serve its upload route (set on `cls` otherwise)
        return super().create(*children, **props)


def _rejections(rejected: rx.Var[Any]) -> rx.Var[list[dict[str, Any]]]:
    """What the server needs of react-dropzone's rejections (a `File`'s name, size and
    type are not its own properties, so they would not survive JSON)."""
    return rx.Var(
        f"{rejected}.map((r) => ({{name: r.file?.name ?? '', size: r.file?.size ?? 0,"
        " type: r.file?.type ?? '', codes: (r.errors ?? []).map((e) => e.code)}))"
    ).to(list[dict[str, Any]])


def attach_button() -> rx.Component:
    return rx.cond(
        NativeChatState.attach_enabled,
        rx.tooltip(
            rx.icon_button(
                rx.cond(NativeChatState.uploading, rx.spinner(size="2"), rx.icon("paperclip", size=18)),
                type="button",
                size="2",
                radius="full",
                variant="ghost",
                color_scheme="gray",
                aria_label="Attach files",
                data_testid="attach-button",
                custom_attrs={"onClick": rx.Var(_OPEN_PICKER)},
            ),
            content=NativeChatState.attach_hint,
        ),
    )


def send_or_stop() -> rx.Component:
    return rx.cond(
        NativeChatState.streaming,
        rx.icon_button(
            rx.icon("square", size=14, fill="currentColor"),
            on_click=NativeChatState.stop,
            type="button",
            size="2",
            radius="full",
            color_scheme="gray",
            variant="solid",
            aria_label="Stop",
            data_testid="stop-button",
        ),
        rx.icon_button(
            rx.icon("arrow-up", size=18), type="submit", size="2", radius="full", aria_label="Send", data_testid="send"
        ),
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
            padding="10px 12px 0",
            data_testid="pending-attachments",
        ),
    )


def refused_files() -> rx.Component:
    """Why files were not attached, one line each, until dismissed (or a message is sent)."""
    return rx.cond(
        NativeChatState.refused.length() > 0,  # type: ignore[attr-defined]
        rx.flex(
            rx.icon("file-x", size=16, flex_shrink="0", margin_top="2px"),
            rx.vstack(
                rx.text("Not attached", weight="medium", size="2"),
                rx.foreach(
                    NativeChatState.refused,
                    lambda line: rx.text(line, size="2", data_testid="refused-file", word_break="break-word"),
                ),
                spacing="1",
                flex="1",
                min_width="0",
            ),
            small_icon_button("x", "Dismiss", on_click=NativeChatState.dismiss_refused, type="button"),
            gap="10px",
            align="start",
            width="100%",
            padding="10px 12px",
            margin_bottom="8px",
            border_radius="12px",
            background="var(--amber-a3)",
            color="var(--amber-11)",
            role="alert",
            data_testid="refused-files",
        ),
    )


def message_input() -> rx.Component:
    configured = ui_option("composer", "placeholder")
    return rx.el.textarea(
        name="message",
        id=COMPOSER_ID,
        # Always one (the box's one-line height when empty goes by it, below).
        placeholder=rx.cond(configured, configured.to(str), "Message…"),
        enter_key_submit=True,
        auto_height=True,  # grows with the text; CSS caps it, then it scrolls
        auto_focus=True,
        rows=1,
        data_testid="composer-input",
        aria_label="Message",
        style={
            "width": "100%",
            "resize": "none",
            "border": "none",
            "outline": "none",
            "background": "transparent",
            "color": "inherit",
            "font": "inherit",
            "font_size": "var(--font-size-3)",
            "line_height": "1.5",
            "padding": "12px 16px 4px",
            "max_height": INPUT_MAX_HEIGHT,
            "overflow_y": "auto !important",  # Reflex's auto height sets "scroll": no bar until needed
            "display": "block",
            # Emptied by the server once it has the message (no input event, so Reflex's
            # auto height keeps the last height): back to one line whenever it is empty.
            "&:placeholder-shown": {"height": "auto !important"},
        },
    )


def composer_box() -> rx.Component:
    """The rounded box; it is also the drop zone for files."""
    return LimitedUpload.create(
        pending_attachments(),
        message_input(),
        rx.hstack(
            attach_button(),
            model_picker(portal_class=scheme_class(), portal_style=NativeChatState.theme_style),
            rx.spacer(),
            send_or_stop(),
            align="center",
            spacing="2",
            padding="4px 8px 8px 10px",
            width="100%",
        ),
        id=UPLOAD_ID,
        multiple=True,
        no_click=True,
        no_keyboard=True,
        disabled=~NativeChatState.attach_enabled,
        max_size=rx.cond(
            NativeChatState.attach_largest > 0, NativeChatState.attach_largest, get_settings().chatkit_max_upload_bytes
        ),
        accept=NativeChatState.attach_accept,
        validator=rx.Var(f"{_PER_TYPE_CHECK}({NativeChatState.attach_sizes})"),
        # A new pick clears the last one's refusals; this pick's come from the browser
        # (`upload_rejected`) and from the server (`attach`), in either order.
        on_drop=[
            NativeChatState.dismiss_refused(),
            NativeChatState.attach(
                rx.upload_files(upload_id=UPLOAD_ID, on_upload_progress=NativeChatState.upload_progress)  # type: ignore[arg-type]
            ),
        ],
        on_drop_rejected=lambda rejected: NativeChatState.upload_rejected(_rejections(rejected)),
        drag_active_style={"border_color": "var(--accent-9)", "background": "var(--accent-a2)"},
        width="100%",
        border="1px solid var(--gray-a6)",
        border_radius="24px",
        background="var(--color-panel-solid)",
        box_shadow="0 1px 8px var(--black-a2)",
        _focus_within={"border_color": "var(--accent-8)"},
        data_testid="composer",
    )


def composer() -> rx.Component:
    return rx.form(
        # Sent with the text: the thread it was written in, its draft id, the message it edits.
        rx.el.input(type="hidden", name="thread_id", value=NativeChatState.thread_id),
        rx.el.input(type="hidden", name="draft", value=NativeChatState.draft_id),
        rx.el.input(type="hidden", name="edit_of", value=NativeChatState.editing_id),
        # The address bar when it is sent (filled in by `server_watch.jsx`): the thread a
        # page still loading was opened for.
        rx.el.input(type="hidden", name="page_path", default_value=""),
        command_menu(),
        editing_bar(),
        refused_files(),
        composer_box(),
        # Sending shows the newest messages (a reader scrolled up sees the turn it starts).
        on_submit=[NativeChatState.send, NativeChatState.dismiss_refused, rx.scroll_to(LIST_END, align_to_top=False)],
        reset_on_submit=False,  # the server clears the box once it has the message (not while offline)
        width="100%",
    )
