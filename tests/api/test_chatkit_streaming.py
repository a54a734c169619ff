"""Streaming over a real HTTP connection: deltas arrive as they are produced, and a
client that hangs up mid-answer leaves the partial answer saved in the thread."""

from __future__ import annotations

import asyncio
import time

import httpx

from chatkit_app.api.app import create_api
from chatkit_app.services import Services
from tests.api.chatkit_client import ChatKitClient, Reply, user_input
from tests.conftest import bearer, create_session
from tests.live_server import serve


async def test_deltas_arrive_incrementally_and_disconnect_keeps_the_partial_answer(services: Services) -> None:
    with serve(create_api(lambda: services)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
            session = await create_session(http, user_id="alice")
            request = {"type": "threads.create", "params": {"input": user_input("help")}}
            arrivals: list[float] = []
            reply = Reply()
            started = time.perf_counter()
            async with http.stream("POST", "/api/chatkit", json=request, headers=bearer(session["token"])) as response:
                assert response.status_code == 200
                async for line in response.aiter_lines():
                    event = reply.read(line)
                    if event and event["type"] == "thread.item.updated":
                        arrivals.append(time.perf_counter() - started)
                        assert "delta" in event["update"]  # every update of this answer is text
                        if len(arrivals) == 8:
                            break  # hang up mid-answer
            thread_id, streamed = reply.thread_id, reply.streamed
            # the first deltas came in over time, not in one buffered block
            assert arrivals[-1] - arrivals[0] > 0.03
            await asyncio.sleep(0.5)  # let the server notice the disconnect and save

            alice = ChatKitClient(http, session["token"])
            items = await alice.call("items.list", thread_id=thread_id, limit=20, order="asc")
            answers = [i for i in items["data"] if i["type"] == "assistant_message"]
            assert len(answers) == 1, items
            saved = answers[0]["content"][0]["text"]
            assert saved.startswith(streamed) and len(saved) < 400, saved
            # a new turn after a cancelled one works and is answered
            events = await alice.stream("threads.add_user_message", thread_id=thread_id, input=user_input("again"))
            assert any(e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message" for e in events)
