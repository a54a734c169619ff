"""The private names the app uses with the fast paths off too (they are not speed-ups).

Unlike `internals`, nothing here is looked up at import: a name that an upgrade removed
cannot stop the app from starting; each says what happens then. Checked, one test per
name, by tests/unit/test_fast_path_internals.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx2
import openai


class RetryFilteringClient(openai.AsyncOpenAI):
    """`openai.AsyncOpenAI` whose `_should_retry(response)` (asked after each failed
    attempt while retries are left) says no for the statuses in `never_retried`. Were the
    name gone, those statuses would be retried like the SDK's others (slower, not wrong)."""

    never_retried: frozenset[int] = frozenset()

    def _should_retry(self, response: httpx2.Response) -> bool:
        return response.status_code not in self.never_retried and super()._should_retry(response)


def connected_token_check(event_namespace: object) -> Callable[[str], Awaitable[bool]] | None:
    """`reflex.app.EventNamespace._token_manager.is_token_connected(token)`: whether a
    client token has an open websocket (on any worker, with Redis). Reflex has no public
    way to ask; None when the names are gone (the caller then fails closed)."""
    manager = getattr(event_namespace, "_token_manager", None)
    check: Callable[[str], Awaitable[bool]] | None = getattr(manager, "is_token_connected", None)
    return check
