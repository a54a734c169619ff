"""App authors add workflows in Python: their agent answers on /api/chatkit for
sessions of that workflow, and the built-in assistant is unaffected."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from chatkit.actions import Action
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ThreadItemDoneEvent,
    ThreadStreamEvent,
    WidgetItem,
)

from chatkit_app.api.app import create_api
from chatkit_app.services import build_services
from chatkit_app.workflows import registry as registry_module
from chatkit_app.workflows.agent import Turn, message_text
from chatkit_app.workflows.registry import Workflow, register
from tests.api.chatkit_client import ChatKitClient, done_items
from tests.conftest import api_key_headers, make_settings


class ShoutingAgent:
    async def respond(self, turn: Turn) -> AsyncIterator[ThreadStreamEvent]:
        text = message_text(turn.message).upper() + "!"
        item = AssistantMessageItem(
            id=turn.new_id("message"),
            thread_id=turn.thread.id,
            created_at=datetime.now(),
            content=[AssistantMessageContent(text=text)],
        )
        yield ThreadItemDoneEvent(item=item)

    async def action(
        self, turn: Turn, action: Action[str, Any], sender: WidgetItem | None
    ) -> AsyncIterator[ThreadStreamEvent]:
        return
        yield


@pytest.fixture
def shouting() -> Iterator[Workflow]:
    workflow = register(Workflow(id="shout", name="Shouter", chat_agent=ShoutingAgent, ui={"composer": {}}))
    yield workflow
    registry_module._registered.remove(workflow)


async def test_a_registered_workflow_answers_its_sessions(shouting: Workflow, tmp_path: Path) -> None:
    services = build_services(make_settings(tmp_path), production=False)
    try:
        transport = httpx.ASGITransport(app=create_api(lambda: services))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            created = await http.post(
                "/api/chatkit/session", json={"userId": "ann", "workflowId": "shout"}, headers=api_key_headers()
            )
            assert created.status_code == 201
            shout = ChatKitClient(http, created.json()["token"])
            _, events = await shout.new_thread("hello")
            assert done_items(events, "assistant_message")[0]["content"][0]["text"] == "HELLO!"

            described = await http.get("/api/chatkit/workflows/shout", headers=api_key_headers())
            public = described.json()
            assert {k: public[k] for k in ("id", "name", "mode")} == {"id": "shout", "name": "Shouter", "mode": "agent"}
            assert public["ui"]["composer"]["attachments"]["enabled"] is True  # what our server takes, for ChatKit

            assistant = await ChatKitClient.for_user(http, "ann")
            _, events = await assistant.new_thread("hello")
            assert "offline demo agent" in done_items(events, "assistant_message")[0]["content"][0]["text"]
    finally:
        services.close()


async def test_threads_stay_with_the_workflow_they_were_made_in(shouting: Workflow, tmp_path: Path) -> None:
    """One user, two workflows: each session lists only its own workflow's threads, and the
    other workflow's thread is a plain 404 for every request (it never runs the wrong agent)."""
    services = build_services(make_settings(tmp_path), production=False)
    try:
        transport = httpx.ASGITransport(app=create_api(lambda: services))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            created = await http.post(
                "/api/chatkit/session", json={"userId": "ann", "workflowId": "shout"}, headers=api_key_headers()
            )
            shout = ChatKitClient(http, created.json()["token"])
            assistant = await ChatKitClient.for_user(http, "ann")
            loud, events = await shout.new_thread("hello")
            answer = done_items(events, "assistant_message")[0]["id"]
            calm, _ = await assistant.new_thread("hello")

            assert [t["id"] for t in (await shout.call("threads.list", limit=50))["data"]] == [loud]
            assert [t["id"] for t in (await assistant.call("threads.list", limit=50))["data"]] == [calm]
            user_input = {"content": [{"type": "input_text", "text": "hi"}], "attachments": [], "inference_options": {}}
            for type_, params in [
                ("threads.get_by_id", {"thread_id": loud}),
                ("items.list", {"thread_id": loud}),
                ("items.feedback", {"thread_id": loud, "item_ids": [answer], "kind": "negative"}),
                ("threads.update", {"thread_id": loud, "title": "moved"}),
                ("threads.add_user_message", {"thread_id": loud, "input": user_input}),
                ("threads.delete", {"thread_id": loud}),
                ("threads.list", {"limit": 5, "after": loud}),
            ]:
                response = await assistant.raw({"type": type_, "params": params})
                assert response.status_code == 404, (type_, response.text[:200])
            items = await shout.call("items.list", thread_id=loud, limit=50, order="asc")
            assert [i["type"] for i in items["data"]] == ["user_message", "assistant_message"]
            assert (await shout.call("threads.get_by_id", thread_id=loud)).get("title") != "moved"
    finally:
        services.close()
