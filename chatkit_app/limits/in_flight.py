"""Things a user has going at once, in this process: answers being written
(`AnswersInFlight`) and uploads streaming (`InFlight`, used by the attachment store).

Each answer holds memory while it runs (its history, the bytes of the files it sends to the
model, base64 and the request body: up to ~4x `CHATKIT_MODEL_MAX_TURN_MB`) and a model
stream. The rate limits count messages per minute, not answers still running, so without
this one user could keep dozens of slow answers open. Counted per backend process (with
several workers, each counts its own: at most `workers x limit` per user).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Callable

from chatkit_app.errors import RateLimited
from chatkit_app.ops import metrics
from chatkit_app.ops.metrics import AnswerMeter


class InFlight:
    """Up to `limit` (0: no limit) of one kind per user at once; past it `refusal(limit)`
    is raised and counted under the metric label `label`."""

    def __init__(self, limit: int, label: str, refusal: Callable[[int], RateLimited]) -> None:
        self.limit = limit
        self.label = label
        self.refusal = refusal
        self._running: dict[str, int] = {}

    def running(self, user_id: str) -> int:
        return self._running.get(user_id, 0)

    def enter(self, user_id: str) -> Callable[[], None]:
        """One more for `user_id`, or the refusal; call the result (once or more) when it
        ends."""
        count = self._running.get(user_id, 0)
        if self.limit and count >= self.limit:
            metrics.limit_refused(self.label)
            raise self.refusal(self.limit)
        self._running[user_id] = count + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            left = self._running.get(user_id, 1) - 1
            if left > 0:
                self._running[user_id] = left
            else:
                self._running.pop(user_id, None)

        return release


def _too_many_answers(limit: int) -> RateLimited:
    answers = "answer" if limit == 1 else f"{limit} answers"
    return RateLimited(
        f"You already have {answers} being written; wait until one is finished.",
        retry_after=5,
        code="too_many_answers",
    )


class AnswersInFlight(InFlight):
    def __init__(self, limit: int) -> None:
        super().__init__(limit, "answers_in_flight", _too_many_answers)

    def holding(
        self, stream: AsyncIterator[bytes], release: Callable[[], None], meter: AnswerMeter | None = None
    ) -> AsyncGenerator[bytes, None]:
        """`stream`, releasing its answer when it ends, fails or is closed, or when it is
        dropped without ever being read (a client gone before the response started).
        `meter` sees each chunk as it passes (one layer for both)."""

        async def held() -> AsyncGenerator[bytes, None]:
            if meter is not None:
                meter.opened()
            outcome = "failed"
            try:
                async for chunk in stream:
                    if meter is not None:
                        meter.chunk(chunk)
                    yield chunk
                outcome = "completed"
            except (GeneratorExit, asyncio.CancelledError):
                outcome = "cancelled"
                raise
            finally:
                release()
                if meter is not None:
                    meter.closed(outcome)

        wrapped = held()
        weakref.finalize(wrapped, release)
        return wrapped
