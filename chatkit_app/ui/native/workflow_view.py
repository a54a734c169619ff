"""An agent's tool calls and reasoning in the page: one compact block per workflow item.

Open while it runs (each task with a spinner, a check, or a red cross when it failed),
closed to a one-line summary ("Used 2 tools · 3 s") when done. It is a native
`<details>`: opening and closing a finished block happens in the browser, with no event
sent to the server; React sets `open` only when the block starts or ends.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

BLOCK_STYLE = {
    "& > summary": {"list-style": "none", "cursor": "pointer"},
    "& > summary::-webkit-details-marker": {"display": "none"},
    "& > summary:focus-visible": {"outline": "2px solid var(--focus-8)", "outline-offset": "2px"},
    "& .workflow-chevron": {"transition": "transform 120ms ease"},
    "&[open] .workflow-chevron": {"transform": "rotate(90deg)"},
}


def _icon_slot(icon: rx.Component) -> rx.Component:
    """Icons and spinners in one column (a spinner is narrower than an icon)."""
    return rx.box(
        icon,
        width="16px",
        height="20px",
        flex_shrink="0",
        display="flex",
        align_items="center",
        justify_content="center",
    )


def task_status_icon(task: Any) -> rx.Component:
    """Spinner while it runs, check when done, red cross when it failed."""
    return rx.match(
        task.status,
        ("loading", rx.spinner(size="1", aria_label="Running")),
        ("complete", rx.icon("circle-check", size=15, color="var(--green-10)", aria_label="Done")),
        ("failed", rx.icon("circle-x", size=15, color="var(--red-10)", aria_label="Failed")),
        rx.cond(
            task.kind == "thought",
            rx.icon("lightbulb", size=15, color="var(--gray-10)", aria_hidden="true"),
            rx.icon("circle-dot", size=15, color="var(--gray-9)", aria_hidden="true"),
        ),
    )


def workflow_task(task: Any) -> rx.Component:
    """One task: its title, and below it the tool's detail or the thought's text."""
    failed = task.status == "failed"
    return rx.hstack(
        _icon_slot(task_status_icon(task)),
        rx.vstack(
            rx.text(
                task.title,
                size="2",
                weight="medium",
                color=rx.cond(failed, "var(--red-11)", "var(--gray-12)"),
                data_testid="workflow-task-title",
            ),
            rx.cond(
                task.content != "",
                rx.text(
                    task.content,
                    size="1",
                    color="var(--gray-11)",
                    white_space="pre-wrap",
                    font_style=rx.cond(task.kind == "thought", "italic", "normal"),
                    data_testid="workflow-task-content",
                ),
            ),
            spacing="0",
            min_width="0",
            overflow_wrap="anywhere",
        ),
        spacing="2",
        align="start",
        width="100%",
        data_testid="workflow-task",
        data_status=task.status,
        data_kind=task.kind,
    )


def _header_icon(msg: Any) -> rx.Component:
    return rx.cond(
        msg.done,
        rx.cond(
            msg.failed > 0,
            rx.icon("circle-x", size=15, color="var(--red-10)", aria_hidden="true"),
            rx.cond(
                msg.kind == "reasoning",
                rx.icon("lightbulb", size=15, color="var(--gray-10)", aria_hidden="true"),
                rx.icon("wrench", size=15, color="var(--gray-10)", aria_hidden="true"),
            ),
        ),
        rx.spinner(size="1", aria_hidden="true"),
    )


def workflow_block(msg: Any) -> rx.Component:
    """A workflow item: a summary line that opens to the list of its tasks."""
    done = msg.done
    return rx.el.details(
        rx.el.summary(
            rx.hstack(
                _icon_slot(_header_icon(msg)),
                rx.text(msg.header, size="2", color="var(--gray-11)", truncate=True, flex="1"),
                rx.icon("chevron-right", size=14, color="var(--gray-9)", class_name="workflow-chevron"),
                align="center",
                spacing="2",
                min_width="0",
            ),
            data_testid="workflow-summary",
        ),
        rx.vstack(
            rx.foreach(msg.tasks, workflow_task),
            spacing="2",
            padding_top="8px",
            margin_top="8px",
            border_top="1px solid var(--gray-a4)",
            width="100%",
        ),
        open=~done,
        style=BLOCK_STYLE,
        align_self="flex-start",
        width="min(100%, 560px)",
        flex_shrink="0",
        padding="8px 12px",
        border="1px solid var(--gray-a5)",
        border_radius="max(var(--radius-3), 10px)",
        background="var(--gray-a2)",
        data_testid="workflow",
        data_done=rx.cond(done, "true", "false"),
        aria_busy=rx.cond(done, "false", "true"),
    )
