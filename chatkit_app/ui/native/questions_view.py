"""An agent's structured question in the page: a small form while it waits for answers
(choices as radio buttons or checkboxes, with room for an answer of one's own; free text
as a text box), then the stored answers, read-only, once answered or skipped. Native form
controls: they work with a keyboard, a screen reader and a phone's own pickers."""

from __future__ import annotations

from typing import Any

import reflex as rx

from chatkit_app.ui.native.questions import ITEM_FIELD
from chatkit_app.ui.native.state import NativeChatState

CHOICE_STYLE = {
    "display": "flex",
    "align_items": "center",
    "gap": "8px",
    "padding": "6px 10px",
    "border": "1px solid var(--gray-a5)",
    "border_radius": "max(var(--radius-2), 8px)",
    "cursor": "pointer",
    "font_size": "var(--font-size-2)",
    "min_height": "36px",
    "overflow_wrap": "anywhere",
    "&:has(input:checked)": {"border_color": "var(--accent-8)", "background": "var(--accent-a3)"},
    "&:has(input:focus-visible)": {"outline": "2px solid var(--focus-8)", "outline_offset": "1px"},
    "& input": {"accent_color": "var(--accent-9)", "width": "16px", "height": "16px", "flex_shrink": "0"},
}


def _choice(question: Any, option: Any) -> rx.Component:
    single = question.kind == "single"
    return rx.el.label(
        rx.el.input(
            type=rx.cond(single, "radio", "checkbox"),
            name=rx.cond(single, question.field, option.field),
            value=option.value,
        ),
        rx.text(option.value),
        style=CHOICE_STYLE,
        data_testid="question-choice",
    )


def _pending_question(question: Any) -> rx.Component:
    choices = question.options
    return rx.el.fieldset(
        rx.el.legend(rx.text(question.question, size="2", weight="medium"), padding="0"),
        rx.cond(
            question.description != "",
            rx.text(question.description, size="1", color="var(--gray-11)"),
        ),
        rx.cond(
            question.kind == "freeform",
            rx.text_area(
                name=question.field,
                rows="2",
                resize="vertical",
                width="100%",
                aria_label=question.question,
                data_testid="question-text",
            ),
            rx.vstack(
                rx.flex(rx.foreach(choices, lambda option: _choice(question, option)), gap="6px", wrap="wrap"),
                rx.input(
                    name=question.other_field,
                    placeholder="Or type your own answer",
                    aria_label=rx.Var.create("Your own answer: ") + question.question,
                    size="2",
                    width="100%",
                    data_testid="question-other",
                ),
                spacing="2",
                width="100%",
                align="stretch",
            ),
        ),
        display="flex",
        flex_direction="column",
        gap="6px",
        border="none",
        margin="0",
        padding="0",
        min_width="0",
        data_testid="question",
        data_kind=question.kind,
    )


def _answered_question(question: Any) -> rx.Component:
    return rx.vstack(
        rx.text(question.question, size="2", color="var(--gray-11)"),
        rx.cond(
            question.skipped,
            rx.text("Skipped", size="2", color="var(--gray-10)", font_style="italic", data_testid="question-answer"),
            rx.text(question.answer, size="2", weight="medium", data_testid="question-answer"),
        ),
        spacing="0",
        min_width="0",
        overflow_wrap="anywhere",
        data_testid="question",
    )


def _pending_form(msg: Any, questions: Any) -> rx.Component:
    busy = NativeChatState.answering != ""
    return rx.form(
        rx.el.input(type="hidden", name=ITEM_FIELD, value=msg.id),
        rx.vstack(
            rx.foreach(questions, _pending_question),
            rx.hstack(
                rx.button(
                    "Skip",
                    type="button",
                    variant="soft",
                    color_scheme="gray",
                    on_click=NativeChatState.skip_questions(msg.id),  # type: ignore[misc]
                    disabled=busy,
                ),
                rx.button(
                    rx.cond(busy, rx.spinner(size="1"), rx.icon("send-horizontal", size=14)),
                    "Send answers",
                    type="submit",
                    disabled=busy,
                ),
                justify="end",
                width="100%",
                spacing="2",
            ),
            spacing="4",
            width="100%",
        ),
        on_submit=NativeChatState.answer_questions,
        width="100%",
    )


def questions_block(msg: Any) -> rx.Component:
    """A `structured_input` item: the form while pending, the answers after."""
    questions = msg.questions
    pending = msg.status == "pending"
    return rx.box(
        rx.hstack(
            rx.match(
                msg.status,
                ("answered", rx.icon("circle-check", size=16, color="var(--green-10)", aria_hidden="true")),
                ("skipped", rx.icon("circle-minus", size=16, color="var(--gray-10)", aria_hidden="true")),
                rx.icon("circle-help", size=16, color="var(--accent-10)", aria_hidden="true"),
            ),
            rx.text(
                rx.match(msg.status, ("answered", "Your answers"), ("skipped", "Skipped"), "A few questions"),
                size="2",
                weight="medium",
            ),
            align="center",
            spacing="2",
            margin_bottom="10px",
        ),
        rx.cond(
            pending,
            _pending_form(msg, questions),
            rx.vstack(rx.foreach(questions, _answered_question), spacing="3", width="100%"),
        ),
        align_self="flex-start",
        width="min(100%, 560px)",
        padding="12px 14px",
        border="1px solid var(--gray-a5)",
        border_radius="max(var(--radius-3), 12px)",
        background="var(--gray-a2)",
        data_testid="questions",
        data_status=msg.status,
    )
