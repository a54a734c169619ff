"""The typed shapes the native chat keeps in Reflex state: a message of the window, an
attachment chip, a model the picker offers, and the rows a workflow or a question holds.

Frozen dataclasses: Reflex stores them as they are (a list of them is a state var), sends
them to the browser as JSON objects, and lets a view read a field as `msg.role`; the pure
functions change one with `dataclasses.replace`, never in place. `slots` keeps the up to
`MAX_KEPT` messages of every open tab small in the backend's memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from chatkit_app.ui.native.widgets import WidgetBlock

Role = Literal["user", "assistant", "widget", "workflow", "questions"]


@dataclass(frozen=True, slots=True)
class Attachment:
    """An attachment as a chip shows it: name, type, and an image's signed preview."""

    id: str = ""
    name: str = "file"
    mime: str = ""
    preview: str = ""


@dataclass(frozen=True, slots=True)
class ModelOption:
    """One model of the workflow's `composer.models`, as the picker lists it."""

    id: str
    label: str
    description: str = ""
    default: bool = False


@dataclass(frozen=True, slots=True)
class WorkflowTask:
    """One task of a workflow block: kind, title, detail text and a status the page draws
    as it is (`loading`, `complete`, `failed`, `none`)."""

    kind: str
    title: str
    content: str
    status: str


@dataclass(frozen=True, slots=True)
class QuestionOption:
    value: str
    field: str  # its form field (a checkbox's name)


@dataclass(frozen=True, slots=True)
class Question:
    """One question of a structured input: `kind` is single, multiple or freeform;
    `answer` the stored values joined ("" when none)."""

    id: str
    question: str
    description: str
    kind: str
    options: list[QuestionOption]
    field: str
    other_field: str
    answered: bool
    answer: str
    skipped: bool


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of the window. `role` says which of the fields matter: every message
    has an id, a text and `truncated`; the rest keep their defaults unless the role uses
    them."""

    id: str
    role: Role
    text: str = ""
    truncated: bool = False  # the text was cut to `window.MAX_CHARS`
    # An assistant's answer: the feedback given to it ("positive", "negative" or "").
    feedback: str = ""
    # A user's message: its attachments; before the server saved it, also what to send
    # again on Retry (the typed text, and the "/" menu's tags as ChatKit `input_tag` parts).
    attachments: list[Attachment] = field(default_factory=list)
    input_text: str = ""
    tags: list[dict[str, Any]] = field(default_factory=list)
    # A widget: its blocks (widgets.py).
    blocks: list[WidgetBlock] = field(default_factory=list)
    # A workflow (tool calls, reasoning): kind custom/reasoning, its tasks, whether it ended,
    # its duration in seconds (-1: unknown), its summary, its one-line header, failed tasks.
    kind: str = ""
    tasks: list[WorkflowTask] = field(default_factory=list)
    done: bool = False
    duration: int = -1
    summary_title: str = ""
    header: str = ""
    failed: int = 0
    # An agent's questions: pending, answered or skipped, and the questions.
    status: str = ""
    questions: list[Question] = field(default_factory=list)
