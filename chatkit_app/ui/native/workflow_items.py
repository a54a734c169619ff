"""ChatKit workflow items (an agent's tool calls and reasoning) as the native UI's messages.

A workflow item holds tasks; the server streams it as `thread.item.added`, then
`workflow.task.added` / `workflow.task.updated` updates, then `thread.item.done` with a
summary. Here each becomes one flat `ChatMessage` (the page needs no logic): every task
with a status the page draws as it is
(`loading`, `complete`, `failed`, `none`), and a one-line header for the collapsed block.

ChatKit's tasks have no failed state: a finished task whose title says it failed (ends with
"failed", the Agents SDK runner's "<tool> failed", or starts with "Failed"), or that carries
a failure icon (`FAILED_ICONS`, e.g. "lucide:circle-x"), is shown as failed.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from chatkit_app.ui.native.message_model import ChatMessage, WorkflowTask

MAX_TITLE = 300
MAX_CONTENT = 4_000  # per task: a thought or a tool's detail, never a whole document
FAILED_ICONS = frozenset({"lucide:circle-x", "lucide:x-circle", "lucide:triangle-alert", "lucide:circle-alert"})
# "<tool> failed" (the runner's wording) or "Failed: …", not a tool named "check failed logins".
_FAILED_TITLE = re.compile(r"^failed\b|\bfailed[.!]?$", re.IGNORECASE)
_DEFAULT_TITLES = {
    "custom": "Tool",
    "thought": "Thought",
    "web_search": "Searched the web",
    "file": "Read files",
    "image": "Image",
}


def workflow_message(item: dict[str, Any], *, done: bool = True) -> ChatMessage:
    """The message shown for a workflow item: from history or `thread.item.done` (done),
    or from `thread.item.added` (running)."""
    workflow = item.get("workflow")
    workflow = workflow if isinstance(workflow, dict) else {}
    summary = workflow.get("summary")
    summary = summary if isinstance(summary, dict) else {}
    duration = summary.get("duration")
    message = ChatMessage(
        id=str(item.get("id", "")),
        role="workflow",
        kind="reasoning" if workflow.get("type") == "reasoning" else "custom",
        tasks=[task_row(t) for t in workflow.get("tasks") or [] if isinstance(t, dict)],
        done=done,
        duration=duration if isinstance(duration, int) else -1,
        summary_title=_clip(summary.get("title"), MAX_TITLE),
    )
    return settled(message) if done else with_header(message)


def settled(message: ChatMessage) -> ChatMessage:
    """The block once its reply has ended (done, stopped or failed): no task spins on."""
    tasks = [replace(t, status="none") if t.status == "loading" else t for t in message.tasks]
    return with_header(replace(message, tasks=tasks, done=True))


def task_row(task: dict[str, Any]) -> WorkflowTask:
    """One task as the page draws it: kind, title, detail text and status."""
    kind = str(task.get("type", "custom"))
    title = _clip(task.get("title") or task.get("title_query"), MAX_TITLE) or _DEFAULT_TITLES.get(kind, "Step")
    status = str(task.get("status_indicator") or "none")
    if status not in ("loading", "complete"):
        status = "none"
    if status == "complete" and (task.get("icon") in FAILED_ICONS or _FAILED_TITLE.search(title)):
        status = "failed"
    if kind == "custom" and task.get("icon") == "agent" and title.startswith("Handed over to "):
        kind = "handoff"  # the runner's task for an agent handing the conversation on
    return WorkflowTask(kind=kind, title=title, content=_clip(_detail(kind, task), MAX_CONTENT), status=status)


def apply_task_update(message: ChatMessage, update: dict[str, Any]) -> ChatMessage:
    """The message after a `workflow.task.added` / `workflow.task.updated` update: the task
    put at its index (a task added again after the item ended reopens the block, as ChatKit
    continues a workflow after a client tool call)."""
    task, index = update.get("task"), update.get("task_index")
    if not isinstance(task, dict) or not isinstance(index, int) or index < 0:
        return message
    tasks = list(message.tasks)
    row = task_row(task)
    if index < len(tasks):
        tasks[index] = row
    else:
        tasks.append(row)
    reopened = message.done and update.get("type") == "workflow.task.added"
    return with_header(replace(message, tasks=tasks, done=message.done and not reopened))


def with_header(message: ChatMessage) -> ChatMessage:
    """The block's one-line header: what runs now, or (done) "Used 2 tools · 3 s · 1 failed"."""
    tasks = message.tasks
    failed = sum(1 for t in tasks if t.status == "failed")
    if not message.done:
        running = [t for t in tasks if t.status == "loading"]
        if running:
            header = running[-1].title
        else:
            header = "Thinking…" if message.kind == "reasoning" or not tasks else "Working…"
        return replace(message, header=header, failed=failed)
    seconds = f"{message.duration} s" if message.duration >= 0 else ""
    tools = sum(1 for t in tasks if t.kind not in ("thought", "handoff"))
    handoffs = sum(1 for t in tasks if t.kind == "handoff")
    if message.summary_title:
        parts = [message.summary_title]
    elif tools or handoffs:
        if tools:
            handed = f"{handoffs} handoff{'s' if handoffs != 1 else ''}" if handoffs else ""
            parts = [f"Used {tools} tool{'s' if tools != 1 else ''}", handed, seconds]
        else:  # only handoffs: the last says where the conversation went
            parts = [next(t.title for t in reversed(tasks) if t.kind == "handoff"), seconds]
    else:
        parts = [f"Thought for {seconds}" if seconds else "Thought"]
    if failed:
        parts.append(f"{failed} failed")
    return replace(message, header=" · ".join(p for p in parts if p), failed=failed)


def _detail(kind: str, task: dict[str, Any]) -> str:
    if kind == "web_search":
        return ", ".join(str(q) for q in task.get("queries") or []) + _source_titles(task)
    if kind == "file":
        return _source_titles(task).lstrip("\n")
    return str(task.get("content") or "")


def _source_titles(task: dict[str, Any]) -> str:
    titles = [str(s.get("title", "")) for s in task.get("sources") or [] if isinstance(s, dict)]
    return "\n" + "\n".join(titles) if titles else ""


def _clip(value: Any, limit: int) -> str:
    text = str(value or "").strip() if value is not None else ""
    return text if len(text) <= limit else text[: limit - 1] + "…"
