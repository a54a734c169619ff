"""The start screen: the greeting above the composer and the workflow's prompts below
it, all centred; placeholders of the same shape while the session is being made, so the
first paint has no blank area."""

from __future__ import annotations

import reflex as rx

from chatkit_app.ui.native.look import ui_option
from chatkit_app.ui.native.state import NativeChatState
from chatkit_app.ui.state import ChatSessionState

LOADING = ~ChatSessionState.session_ready & (ChatSessionState.error == "")


def start_greeting() -> rx.Component:
    return rx.center(
        rx.cond(
            LOADING,
            rx.skeleton(rx.box(height="32px", width="min(420px, 80%)"), loading=True, data_testid="greeting-skeleton"),
            rx.heading(ui_option("startScreen", "greeting").to(str), size="7", weight="medium", text_align="center"),
        ),
        width="100%",
        padding_x="8px",
        data_testid="start-screen",
    )


def start_prompts() -> rx.Component:
    prompts = ui_option("startScreen", "prompts").to(list[dict[str, str]])
    return rx.flex(
        rx.cond(
            LOADING,
            rx.fragment(*[rx.skeleton(rx.box(height="32px", width=w), loading=True) for w in ("140px", "170px")]),
            rx.foreach(
                prompts,
                lambda p: rx.button(
                    p["label"],
                    on_click=NativeChatState.send_prompt(p["prompt"]),
                    variant="outline",
                    color_scheme="gray",
                    radius="full",
                    size="2",
                ),
            ),
        ),
        wrap="wrap",
        gap="8px",
        justify="center",
        width="100%",
        data_testid="start-prompts",
    )


def start_screen() -> rx.Component:
    """The greeting and the prompts without the composer (for an app that lays its own)."""
    return rx.vstack(start_greeting(), start_prompts(), align="center", spacing="4", width="100%")
