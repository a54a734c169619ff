"""The offline demo agent's structured question (ChatKit's `StructuredInputItem`), so a
visitor without a model can see one: one choice, several choices, and free text. After the
answers (or a skip) come back through `threads.add_structured_input`, the agent sums them up.
"""

from __future__ import annotations

import re
from datetime import datetime

from chatkit.types import (
    StructuredInputFreeform,
    StructuredInputItem,
    StructuredInputMultipleChoice,
    StructuredInputMultipleChoiceOption,
)

from chatkit_app.workflows.agent import Turn

ASK_PROMPT = re.compile(r"(^|\s)(/ask\b|ask me\b)")


def demo_questions(turn: Turn) -> StructuredInputItem:
    """Three questions, each kind once; any of them may be skipped."""
    return StructuredInputItem(
        id=turn.new_id("message"),
        thread_id=turn.thread.id,
        created_at=datetime.now(),
        inputs=[
            StructuredInputMultipleChoice(
                id="scheme",
                question="Which colour scheme do you prefer?",
                options=_options("Light", "Dark", "Whatever my system uses"),
            ),
            StructuredInputMultipleChoice(
                id="topics",
                question="What would you like to try next?",
                options=_options("Widgets", "Tool calls", "Attachments"),
                multiple=True,
            ),
            StructuredInputFreeform(
                id="note",
                question="Anything else you'd like to tell me?",
                description="A sentence or two is plenty.",
            ),
        ],
    )


def _options(*values: str) -> list[StructuredInputMultipleChoiceOption]:
    return [StructuredInputMultipleChoiceOption(value=value) for value in values]


def answers_reply(item: StructuredInputItem) -> str:
    """What the agent says once the answers are stored: each question and its answer."""
    if item.status == "skipped":
        return "You skipped my questions. No problem: type **help** to see what else I can do."
    lines = []
    for question in item.inputs:
        answer = question.answer
        given = ", ".join(answer.values) if answer and not answer.skipped and answer.values else "(skipped)"
        lines.append(f"- {question.question} **{given}**")
    return "Thanks! Your answers:\n" + "\n".join(lines)
