"""Upstream failures in words a user understands, and whether another attempt is worth it.

Messages are built only from status codes and exception types, never from upstream text
(which can echo parts of a key)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import openai
from agents import ModelBehaviorError


@dataclass(frozen=True)
class Failure:
    message: str
    allow_retry: bool = True
    retryable: bool = False  # worth another attempt when nothing was streamed yet
    retry_after: float | None = None


def describe_failure(exc: BaseException, *, budget: float, started: bool) -> Failure:
    """A user-facing message for an upstream failure."""
    seconds = f"{budget:g}"
    chain = _chain(exc)
    status = next((e for e in chain if isinstance(e, openai.APIStatusError)), None)
    if status is not None:
        code = status.status_code
        if code == 429:
            after = _retry_after(status.response.headers)
            when = f"in {max(1, math.ceil(after))} s" if after is not None else "in a moment"
            return Failure(f"The model server is rate limiting requests; try again {when}.", True, True, after)
        if code >= 500:
            return Failure(f"The model server returned an error (HTTP {code}). Try again.", True, True)
        if code in (401, 403):
            return Failure(f"The model server refused the API key (HTTP {code}). Check OPENAI_API_KEY.", False)
        if code == 404:
            return Failure("The model server does not know this model (HTTP 404). Check CHATKIT_MODEL.", False)
        return Failure(f"The model server rejected the request (HTTP {code}).", code in (408, 409))
    if any(isinstance(e, openai.APITimeoutError | TimeoutError) for e in chain):
        if started:
            return Failure(f"The model stopped answering for {seconds} s; its answer was cut off.")
        return Failure(f"The model server did not answer within {seconds} s.")
    if any(isinstance(e, openai.APIConnectionError) for e in chain):
        if started:
            return Failure("The model's answer was cut off: the connection to the model server was lost.")
        return Failure("Could not reach the model server. Try again.", True, True)
    if any(isinstance(e, ValueError | openai.APIResponseValidationError) for e in chain):
        cut = " Its answer was cut off." if started else ""
        return Failure(f"The model server sent a malformed answer.{cut}")
    if any(isinstance(e, openai.APIError | ModelBehaviorError) for e in chain):  # an error sent inside the stream
        if started:
            return Failure("The model server reported an error; its answer was cut off.")
        return Failure("The model server reported an error while answering. Try again.")
    if started:
        return Failure("The model's answer was cut off by an unexpected error. Try again.")
    return Failure("The assistant failed unexpectedly. Try again.")


def failure_kind(exc: BaseException) -> str:
    """For logs: the HTTP status, else the exception's type (never its message)."""
    status = next((e for e in _chain(exc) if isinstance(e, openai.APIStatusError)), None)
    return f"HTTP {status.status_code}" if status is not None else type(exc).__name__


def failure_label(exc: BaseException) -> str:
    """For metrics: one of a few fixed kinds (a bounded label), as `describe_failure` sorts them."""
    chain = _chain(exc)
    status = next((e for e in chain if isinstance(e, openai.APIStatusError)), None)
    if status is not None:
        code = status.status_code
        if code == 429:
            return "rate_limited"
        if code >= 500:
            return "server_error"
        return {401: "auth", 403: "auth", 404: "not_found"}.get(code, "rejected")
    for kinds, label in _LABELS:
        if any(isinstance(e, kinds) for e in chain):
            return label
    return "unexpected"


_LABELS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    ((openai.APITimeoutError, TimeoutError), "timeout"),
    (openai.APIConnectionError, "connection"),
    ((ValueError, openai.APIResponseValidationError), "malformed"),
    ((openai.APIError, ModelBehaviorError), "stream_error"),
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(header)
        try:
            seconds = float(value) * scale if value is not None else None
        except ValueError:
            seconds = None
        if seconds is not None and math.isfinite(seconds) and seconds >= 0:
            return seconds
    return None
