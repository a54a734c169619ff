"""The start screen: the greeting and the workflow's prompts."""

from __future__ import annotations

import reflex as rx

from chatkit_app.ui.native.look import ui_option
from chatkit_app.ui.native.state import NativeChatState


def start_screen() -> rx.Component:
    prompts = ui_option("startScreen", "prompts").to(list[dict[str, str]])
    return rx.vstack(
        rx.heading(ui_option("startScreen", "greeting").to(str), size="6", text_align="center"),
        rx.flex(
            rx.foreach(
                prompts,
                lambda p: rx.button(
                    p["label"], on_click=NativeChatState.send_prompt(p["prompt"]), variant="outline", radius="full"
                ),
            ),
            wrap="wrap",
            gap="8px",
            justify="center",
        ),
        align="center",
        justify="center",
        spacing="4",
        flex="1",
        width="100%",
        data_testid="start-screen",
    )
