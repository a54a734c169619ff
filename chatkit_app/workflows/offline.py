"""The offline demo agent: no key, no network, no model weights.

It exists so `make run` is useful with nothing configured, and so every ChatKit feature
(streaming, widgets with server actions, client tools, tool calls shown as a workflow,
the composer's model choice, attachments, progress, titles) can be tried and tested
offline. It says plainly that it is not a language model.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chatkit.actions import Action
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ClientToolCallItem,
    CustomTask,
    DurationSummary,
    NoticeEvent,
    ProgressUpdateEvent,
    StructuredInputItem,
    ThoughtTask,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemReplacedEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    UserMessageItem,
    UserMessageTagContent,
    WidgetItem,
    Workflow,
    WorkflowItem,
    WorkflowTaskAdded,
    WorkflowTaskUpdated,
)
from chatkit.widgets import WidgetTemplate

from chatkit_app.workflows.agent import Turn
from chatkit_app.workflows.offline_questions import ASK_PROMPT, answers_reply, demo_questions

COUNTER = WidgetTemplate.from_file(str(Path(__file__).parent / "widgets" / "counter.widget"))
THEME_TOOL = "switch_theme"
NOTICE = "A notice from the server: agents send these for things like limits or maintenance."
HELP = """I'm the **offline demo agent** of this site: canned answers, no language model, no network.

Try:
- **show a widget**: a card whose buttons are handled on the server
- **dark mode** / **light mode**: I call a client tool that switches the colour scheme
- **notice**: I send a notice, shown above the composer until your next message
- **tools** (or **/tools**): I make two demo tool calls, shown as they run: one works, one fails
- **ask me** (or **/ask**): I ask you three questions (one choice, several choices, free text) and sum up your answers
- attach a file: I tell you its name, type and size
- anything else: I echo it back (and name the model picked in the composer, if the workflow offers models)

Set `OPENAI_API_KEY` (or `OPENAI_BASE_URL` for a local model server) for a real assistant."""


TOOLS_PROMPT = re.compile(r"(^|\s)/?tools\b")
FAILED_ICON = "lucide:circle-x"


class OfflineAgent:
    def __init__(self, *, delay_per_chunk: float = 0.01, tool_seconds: float = 1.0) -> None:
        self._delay = delay_per_chunk
        self._tool_seconds = tool_seconds  # each demo tool "runs" this long: its spinner shows

    async def respond(self, turn: Turn) -> AsyncIterator[ThreadStreamEvent]:
        text = _message_text(turn.message)
        if turn.thread.title is None and text:
            turn.thread.title = _title(text)
        if turn.message is None:
            async for event in self._after_tool(turn):
                yield event
            return
        yield ProgressUpdateEvent(icon="sparkle", text="Thinking (offline demo)…")
        lowered = text.lower()
        if "widget" in lowered:
            yield ThreadItemDoneEvent(item=_counter_item(turn, count=0))
            async for event in self._say(turn, "Here is a widget. Its buttons are handled by the server."):
                yield event
        elif re.search(r"\bnotice\b", lowered):
            yield NoticeEvent(level="info", title="Notice", message=NOTICE)
            async for event in self._say(turn, "I sent you a notice: it stays until your next message."):
                yield event
        elif ASK_PROMPT.search(lowered):
            async for event in self._say(turn, "A few questions for you (answer, or skip them):"):
                yield event
            yield ThreadItemDoneEvent(item=demo_questions(turn))
        elif TOOLS_PROMPT.search(lowered):
            async for event in self._tools_demo(turn):
                yield event
        elif theme := _requested_theme(lowered):
            yield ThreadItemDoneEvent(
                item=ClientToolCallItem(
                    id=turn.new_id("tool_call"),
                    thread_id=turn.thread.id,
                    created_at=datetime.now(),
                    call_id=turn.new_id("tool_call"),
                    name=THEME_TOOL,
                    arguments={"theme": theme},
                )
            )
        else:
            async for event in self._say(turn, _reply(text, turn) + _model_note(turn)):
                yield event

    async def action(
        self, turn: Turn, action: Action[str, Any], sender: WidgetItem | None
    ) -> AsyncIterator[ThreadStreamEvent]:
        if sender is None or action.type not in {"counter.increment", "counter.reset"}:
            async for event in self._say(turn, f"I don't know the action `{action.type}`."):
                yield event
            return
        payload = action.payload if isinstance(action.payload, dict) else {}
        count = int(payload.get("count", 0))
        count = count + 1 if action.type == "counter.increment" else 0
        updated = sender.model_copy(update={"widget": COUNTER.build({"count": count})})
        yield ThreadItemReplacedEvent(item=updated)

    async def _after_tool(self, turn: Turn) -> AsyncIterator[ThreadStreamEvent]:
        """No new message: the answers to a question (the newest item) or a client tool's output."""
        items = await turn.history(limit=5)
        if items and isinstance(items[-1], StructuredInputItem):
            async for event in self._say(turn, answers_reply(items[-1])):
                yield event
            return
        call = next((i for i in reversed(items) if isinstance(i, ClientToolCallItem)), None)
        if call is None or call.name != THEME_TOOL:
            reply = "Done."
        else:
            reply = f"Switched to the {call.arguments.get('theme', 'other')} colour scheme."
        async for event in self._say(turn, reply):
            yield event

    async def _tools_demo(self, turn: Turn) -> AsyncIterator[ThreadStreamEvent]:
        """Two tool calls as a ChatKit workflow item, streamed the way the Agents SDK runner
        streams real ones: a thought, then each call added running and updated when it
        ends (the second fails on purpose), then the item done with its duration."""
        started = datetime.now()
        thought = ThoughtTask(content="You asked for the tools demo: I'll read the clock, then fetch a forecast.")
        item = WorkflowItem(
            id=turn.new_id("workflow"),
            thread_id=turn.thread.id,
            created_at=started,
            workflow=Workflow(type="custom", tasks=[thought], expanded=True),
        )
        yield ThreadItemAddedEvent(item=item.model_copy(deep=True))
        now = datetime.now(UTC).strftime("%H:%M")
        calls = [
            (
                CustomTask(title="Using read clock…", content="timezone: UTC", status_indicator="loading"),
                CustomTask(title="Used read clock", content=f"It is {now} UTC.", status_indicator="complete"),
            ),
            (
                CustomTask(title="Using fetch forecast…", content="city: Paris", status_indicator="loading"),
                CustomTask(
                    title="fetch forecast failed",
                    content="The demo's forecast service is switched off: this failure is on purpose.",
                    icon=FAILED_ICON,
                    status_indicator="complete",
                ),
            ),
        ]
        for running, ended in calls:
            index = len(item.workflow.tasks)
            item.workflow.tasks.append(ended)
            yield ThreadItemUpdatedEvent(item_id=item.id, update=WorkflowTaskAdded(task_index=index, task=running))
            await asyncio.sleep(self._tool_seconds)
            yield ThreadItemUpdatedEvent(item_id=item.id, update=WorkflowTaskUpdated(task_index=index, task=ended))
        duration = max(1, round((datetime.now() - started).total_seconds()))
        item.workflow.summary, item.workflow.expanded = DurationSummary(duration=duration), False
        yield ThreadItemDoneEvent(item=item)
        reply = "I called two demo tools: **read clock** answered, **fetch forecast** failed (on purpose)."
        async for event in self._say(turn, reply):
            yield event

    async def _say(self, turn: Turn, text: str) -> AsyncIterator[ThreadStreamEvent]:
        """Streams `text` as deltas of a few words, like a model would."""
        item = AssistantMessageItem(
            id=turn.new_id("message"), thread_id=turn.thread.id, created_at=datetime.now(), content=[]
        )
        yield ThreadItemAddedEvent(item=item)
        for chunk in re.findall(r"\S+\s*|\s+", text):
            yield ThreadItemUpdatedEvent(
                item_id=item.id, update=AssistantMessageContentPartTextDelta(content_index=0, delta=chunk)
            )
            if self._delay:
                await asyncio.sleep(self._delay)
        item.content = [AssistantMessageContent(text=text)]
        yield ThreadItemDoneEvent(item=item)


def _message_text(message: UserMessageItem | None) -> str:
    """The message's text, a tag (an entity picked from the "/" menu) as "@title"."""
    if message is None:
        return ""
    parts = [f"@{part.text}" if isinstance(part, UserMessageTagContent) else part.text for part in message.content]
    return " ".join(p.strip() for p in parts if p.strip())


def _counter_item(turn: Turn, count: int) -> WidgetItem:
    return WidgetItem(
        id=turn.new_id("message"),
        thread_id=turn.thread.id,
        created_at=datetime.now(),
        widget=COUNTER.build({"count": count}),
        copy_text=f"Counter: {count}",
    )


def _requested_theme(lowered: str) -> str | None:
    if "dark" in lowered:
        return "dark"
    if "light" in lowered:
        return "light"
    return None


def _reply(text: str, turn: Turn) -> str:
    lowered = text.lower().strip(" ?!.")
    if lowered in {"help", "what can you do", "hi", "hello"} or lowered.startswith("help"):
        return HELP
    attachments = turn.message.attachments if turn.message else []
    if attachments:
        lines = [f"- **{a.name}** ({a.mime_type}, {_size(a.metadata)})" for a in attachments]
        return "You sent me:\n" + "\n".join(lines) + "\n\nI can describe files but not read them (offline demo)."
    if not text:
        return "Send me a message, or type **help**."
    return f"You said: “{text}”\n\nI'm the offline demo agent, so I only echo. Type **help** to see what I can do."


def _model_note(turn: Turn) -> str:
    """ "(model: X)" when the message asked for a model (the composer's picker), so the
    choice can be seen reaching the agent; "" otherwise."""
    options = turn.message.inference_options if turn.message else None
    return f"\n\n(model: {options.model})" if options and options.model else ""


def _size(metadata: dict[str, Any] | None) -> str:
    size = (metadata or {}).get("size")
    if not isinstance(size, int):
        return "size unknown"
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def _title(text: str) -> str:
    first_line = text.strip().splitlines()[0]
    return first_line[:60] + ("…" if len(first_line) > 60 else "")
