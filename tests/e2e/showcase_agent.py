"""A canned agent for the message-look tests (workflow `showcase`, registered when the
site imports this module through `CHATKIT_WORKFLOW_MODULES`): Markdown with every block
kind, a long answer, widgets (the demo counter and a ChatKit 1.7+ `Table`, sent as a
plain dict: chatkit-python's widget classes have no Table), a slowly streamed answer, and
the demo agent's colour-scheme switch ("dark mode", a client tool)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from chatkit.actions import Action
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
    WidgetItem,
)

from chatkit_app.workflows.agent import Turn, message_text
from chatkit_app.workflows.offline import COUNTER, OfflineAgent
from chatkit_app.workflows.registry import Workflow, register

LONG_URL = "https://example.test/" + "a-very-long-path-segment-" * 12 + "end"
CODE_LINE = "result = compute_the_answer(" + ", ".join(f"argument_number_{n}" for n in range(12)) + ")"
MARKDOWN = f"""# Release notes

## What changed

### Smaller things

#### Even smaller

Some text with `inline code` and a link: {LONG_URL}

Averyveryverylongwordwithoutanyspaceswhichwouldotherwisepushthemessagewideroutofthescreen{"x" * 60}

> A quoted remark from the changelog,
> muted and set off by a bar.

- first point
- second point
  - nested point

1. one
2. two

```python
def main() -> None:
    {CODE_LINE}
    print(result)
```

| Plan | Price | Seats | Storage | Support | Region |
|------|------:|------:|---------|---------|--------|
| Starter | 0 € | 1 | 1 GB | Community forum | Europe (Frankfurt) |
| Team | 12 € | 10 | 100 GB | Email, next business day | Europe (Frankfurt) |
| Enterprise | ask | unlimited | unlimited | Phone, around the clock | Anywhere you like |
"""


def _cell(component: dict[str, Any], **extra: str) -> dict[str, Any]:
    return {"type": "Table.Cell", "children": [component], **extra}


TABLE_WIDGET: dict[str, Any] = {
    "type": "Card",
    "children": [
        {"type": "Title", "value": "Orders"},
        {
            "type": "Table",
            "children": [
                {
                    "type": "Table.Row",
                    "header": True,
                    "children": [
                        _cell({"type": "Text", "value": name})
                        for name in ("Order", "Customer", "Shipped to", "Status", "Total")
                    ],
                },
                *(
                    {
                        "type": "Table.Row",
                        "children": [
                            _cell({"type": "Text", "value": f"A-100{n}"}),
                            _cell({"type": "Text", "value": customer}),
                            _cell({"type": "Text", "value": "12 Long Street Name, Springfield"}),
                            _cell({"type": "Badge", "label": "shipped"}),
                            _cell({"type": "Text", "value": f"{n * 17}.00 €"}, align="end"),
                        ],
                    }
                    for n, customer in enumerate(("Ada Lovelace", "Grace Hopper", "Edsger Dijkstra"), start=1)
                ),
            ],
        },
    ],
}
LONG_ANSWER = "\n\n".join(f"Paragraph {n}: " + "words that fill the line " * 6 for n in range(1, 31))


class ShowcaseAgent:
    async def respond(self, turn: Turn) -> AsyncIterator[ThreadStreamEvent]:
        text = message_text(turn.message).lower()
        if turn.message is None or "mode" in text:  # "dark mode": the demo's switch_theme client tool
            async for event in OfflineAgent().respond(turn):
                yield event
            return
        if turn.thread.title is None:
            turn.thread.title = text[:40] or "Showcase"
        if "widgets" in text:
            yield ThreadItemDoneEvent(item=_widget(turn, COUNTER.build({"count": 0}).model_dump(exclude_none=True)))
            yield ThreadItemDoneEvent(item=_widget(turn, TABLE_WIDGET))
            answer, delay = "Two widgets: a counter and a table.", 0.0
        elif "markdown" in text:
            answer, delay = MARKDOWN, 0.0
        elif "long" in text:
            answer, delay = LONG_ANSWER, 0.0
        elif "slow" in text:  # a moment of "Thinking…" first, then text for a few seconds
            await asyncio.sleep(1.5)
            answer, delay = " ".join(f"slow{n}" for n in range(80)), 0.06
        else:
            answer, delay = f"Echo: {text}", 0.0
        async for event in _say(turn, answer, delay):
            yield event

    async def action(
        self, turn: Turn, action: Action[str, Any], sender: WidgetItem | None
    ) -> AsyncIterator[ThreadStreamEvent]:
        async for event in OfflineAgent().action(turn, action, sender):
            yield event


def _widget(turn: Turn, widget: dict[str, Any]) -> WidgetItem:
    return WidgetItem.model_validate(
        {"id": turn.new_id("message"), "thread_id": turn.thread.id, "created_at": datetime.now(), "widget": widget}
    )


async def _say(turn: Turn, text: str, delay: float) -> AsyncIterator[ThreadStreamEvent]:
    item = AssistantMessageItem(
        id=turn.new_id("message"), thread_id=turn.thread.id, created_at=datetime.now(), content=[]
    )
    yield ThreadItemAddedEvent(item=item)
    for chunk in re.findall(r"\S+\s*|\s+", text):
        yield ThreadItemUpdatedEvent(
            item_id=item.id, update=AssistantMessageContentPartTextDelta(content_index=0, delta=chunk)
        )
        await asyncio.sleep(delay)
    item.content = [AssistantMessageContent(text=text)]
    yield ThreadItemDoneEvent(item=item)


register(Workflow(id="showcase", name="Showcase", chat_agent=ShowcaseAgent))
