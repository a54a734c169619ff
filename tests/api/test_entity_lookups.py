"""`POST /api/chatkit/entities`: the app's entity handlers answered for the session's user,
a plain (blocking) handler off the event loop, and a rate per user (lookups a minute)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx

from chatkit_app.core.context import RequestContext
from chatkit_app.core.entity_handlers import register
from tests.conftest import api_with_workflows, bearer, create_session, make_settings

SEEN: list[tuple[str, str]] = []


def slow_search(query: str, context: RequestContext) -> list[dict[str, Any]]:
    """A plain function, as an app author writes one (e.g. a blocking database call)."""
    SEEN.append((context.user_id, threading.current_thread().name))
    return [{"id": f"topic-{query}", "title": f"Topic {query} for {context.user_id}"}]


async def test_lookups_run_off_the_loop_for_the_caller_and_are_rate_limited(tmp_path: Path) -> None:
    key = register(search=slow_search)
    settings = make_settings(tmp_path, chatkit_limit_lookups_per_minute=2)
    async with api_with_workflows(settings) as http:
        token = (await create_session(http, user_id="ann"))["token"]

        async def lookup(query: str) -> httpx.Response:
            body = {"handler": key, "op": "search", "query": query}
            return await http.post("/api/chatkit/entities", json=body, headers=bearer(token))

        first = await lookup("a")
        assert first.status_code == 200
        assert first.json() == {"entities": [{"id": "topic-a", "title": "Topic a for ann"}]}
        assert SEEN[-1][0] == "ann" and SEEN[-1][1] != threading.main_thread().name, "run in a worker thread"
        assert (await lookup("b")).status_code == 200
        refused = await lookup("c")
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "rate_limited"
        assert len(SEEN) == 2, "a refused lookup runs no handler"
        anonymous = await http.post("/api/chatkit/entities", json={"handler": key, "op": "search", "query": "d"})
        assert anonymous.status_code == 401
