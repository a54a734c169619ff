"""The request context every store and server call receives.

It is built on the server from a verified session token, never from the request body:
that is how every query is scoped to one user.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RequestContext:
    user_id: str
    session_id: str
    workflow_id: str
    # Absolute base of this backend as the client reached it (e.g. "http://localhost:8000"),
    # for the absolute URLs ChatKit needs (upload descriptors, image previews).
    base_url: str = ""
    # This request (`threads.create`) makes the thread: its history is the new message
    # alone, known without reading the database.
    creates_thread: bool = False
    # The agent already made for this request's answer (one that started its model call
    # early, before the thread was saved), so the answer is its; None: make one.
    answering: Any = None
