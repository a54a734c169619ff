"""Why a turn failed, in plain words, and whether Retry is offered: the inline error
card under the user's message reads a `TurnFailure`.

The server's own messages (model 500, timeout, rate limit, quota) are already written
for people (workflows/failures.py, errors.py); here they only get a short title and the
retry decision. Anything else gets a generic sentence, never an exception's text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chatkit_app.errors import ChatKitAppError

MAX_MESSAGE = 400


@dataclass(frozen=True)
class TurnFailure:
    title: str = ""  # "" when the last turn did not fail
    message: str = ""
    can_retry: bool = True


NO_FAILURE = TurnFailure()
INTERRUPTED = TurnFailure(
    "The answer was interrupted", "Something went wrong while answering; what arrived is kept.", True
)
SERVER_STOPPED = TurnFailure(
    "The answer was cut off",
    "The server stopped while it was answering (a restart or a crash). What arrived is kept.",
    True,
)
UNANSWERED = TurnFailure("No answer", "This message has no answer: the reply was interrupted.", True)


def _title(code: str, message: str) -> str:
    lowered = message.lower()
    if code == "rate_limited" or "rate limit" in lowered:
        return "Too many requests"
    if code == "quota_exceeded":
        return "Limit reached"
    if "did not answer within" in lowered or "stopped answering" in lowered or code == "upstream_timeout":
        return "The model took too long"
    if "could not reach" in lowered or code == "service_unavailable":
        return "The model server is unreachable"
    if "model server" in lowered or code == "upstream_error":
        return "The model server failed"
    return "The assistant could not answer"


def failure_of_event(event: dict[str, Any]) -> TurnFailure:
    """A ChatKit `error` event (`message`, `allow_retry`) as a card."""
    message = str(event.get("message") or "The assistant could not answer.")[:MAX_MESSAGE]
    return TurnFailure(_title(str(event.get("code") or ""), message), message, bool(event.get("allow_retry", True)))


def failure_of_error(exc: ChatKitAppError) -> TurnFailure:
    """A request refused before it started (a rate limit, a quota, a gone thread)."""
    return TurnFailure(_title(exc.code, exc.message), exc.message[:MAX_MESSAGE], exc.retryable)
