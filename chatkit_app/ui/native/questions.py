"""An agent's structured question (ChatKit's `structured_input` item) as the native UI's
message, and the browser's form as the answers ChatKit's UI would send.

The item holds several questions: multiple choice (one answer, or several when `multiple`;
a typed answer of one's own is allowed too, as in ChatKit) or free form. The page draws
each as a form field named after the question (`field_name`), so the answers come back as
one flat form; `submission` turns that into `threads.add_structured_input`'s `input`.
A question left empty is sent as skipped; "Skip" skips them all.
"""

from __future__ import annotations

from typing import Any

from chatkit_app.ui.native.message_model import ChatMessage, Question, QuestionOption

ITEM_FIELD = "question_item"  # the form's hidden field naming the item it answers
MAX_TEXT = 2_000  # one question, option or typed answer: never a document
MAX_OPTIONS = 20
OTHER = "other"


def field_name(question_id: str, part: str = "") -> str:
    """The form field of a question (`part`: an option's index, or `OTHER`)."""
    return f"q:{question_id}:{part}" if part else f"q:{question_id}"


def _clip(value: Any) -> str:
    return str(value or "")[:MAX_TEXT]


def question_row(question: dict[str, Any]) -> Question:
    """One question as the page draws it: `kind` is single, multiple or freeform;
    `answer` the stored values joined ("" when none), `skipped` whether it was skipped."""
    answer = question.get("answer")
    answer = answer if isinstance(answer, dict) else {}
    values = [_clip(v) for v in answer.get("values") or []]
    is_choice = question.get("type") == "multiple_choice"
    options = [_clip(o.get("value")) for o in question.get("options") or [] if isinstance(o, dict)][:MAX_OPTIONS]
    qid = _clip(question.get("id"))
    return Question(
        id=qid,
        question=_clip(question.get("question")),
        description=_clip(question.get("description")),
        kind=("multiple" if question.get("multiple") else "single") if is_choice else "freeform",
        options=[QuestionOption(value=value, field=field_name(qid, str(i))) for i, value in enumerate(options)],
        field=field_name(qid),
        other_field=field_name(qid, OTHER),
        answered=bool(answer),
        answer=", ".join(values),
        skipped=bool(answer.get("skipped")) or (bool(answer) and not values),
    )


def questions_message(item: dict[str, Any]) -> ChatMessage:
    """The message shown for a `structured_input` item (from history or the stream)."""
    status = item.get("status")
    return ChatMessage(
        id=str(item.get("id", "")),
        role="questions",
        status=status if status in ("pending", "answered", "skipped") else "pending",
        questions=[question_row(q) for q in item.get("inputs") or [] if isinstance(q, dict)],
    )


def _values(question: Question, form: dict[str, Any]) -> list[str]:
    """What the form holds for one question, in the order of its options, then the typed one."""

    def given(name: str) -> str:
        value = form.get(name)
        return str(value).strip()[:MAX_TEXT] if isinstance(value, str) else ""

    if question.kind == "freeform":
        return [text] if (text := given(question.field)) else []
    if question.kind == "single":
        chosen = given(question.other_field) or given(question.field)  # typing one's own is choosing it
        return [chosen] if chosen else []
    picked = [o.value for o in question.options if given(o.field)]
    return picked + ([other] if (other := given(question.other_field)) else [])


def submission(message: ChatMessage, form: dict[str, Any]) -> dict[str, Any]:
    """`StructuredInputSubmission` from the submitted form: each question's values, or
    skipped when it has none (the server records it so)."""
    answers: dict[str, dict[str, Any]] = {}
    for question in message.questions:
        values = _values(question, form)
        answers[question.id] = {"values": values} if values else {"values": [], "skipped": True}
    return {"status": "answered", "answers": answers}


def skip_all() -> dict[str, Any]:
    return {"status": "skipped", "answers": {}}
