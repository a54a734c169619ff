"""An attachment as the chat shows it (in a message or waiting in the composer)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from chatkit_app.ui.native.look import small_icon_button
from chatkit_app.ui.native.state import NativeChatState


def attachment_chip(attachment: Any, *, removable: bool = False) -> rx.Component:
    """An attachment: an image's preview, or the file's name."""
    return rx.hstack(
        rx.cond(
            attachment.preview != "",
            rx.image(
                src=attachment.preview,
                alt=attachment.name,
                height="48px",
                max_width="96px",
                object_fit="cover",
                border_radius="6px",
                data_testid="attachment-preview",
            ),
            rx.icon("file-text", size=16),
        ),
        rx.text(attachment.name, size="1", max_width="160px", truncate=True),
        *(
            [
                small_icon_button(
                    "x",
                    "Remove attachment",
                    icon_size=12,
                    on_click=NativeChatState.remove_attachment(attachment.id),
                    type="button",
                )
            ]
            if removable
            else []
        ),
        align="center",
        spacing="2",
        padding="4px 8px",
        border="1px solid var(--gray-a5)",
        border_radius="8px",
        data_testid="attachment-chip",
    )
