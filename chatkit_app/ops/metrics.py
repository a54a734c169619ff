"""What the site is doing, as Prometheus metrics: every instrumentation hook of the app.

The hooks are called from a handful of places only: the ops middleware (HTTP requests),
`AnswersInFlight.holding` (each streamed answer, through an `AnswerMeter`), the session
issuer, the limits (refusals) and the agent runner (model errors). The streaming hot path
pays one method call and one substring test per streamed frame; everything else is once per
answer (`AnswerMeter`).

With several worker processes, `PROMETHEUS_MULTIPROC_DIR` (prepared at start by
`ops.multiproc`) holds one file per process and `render()` sums them: a scrape through any
worker shows the whole host. The variable must be set before `prometheus_client` is
imported (it picks its storage then); the app's `rxconfig.py` sees to that.

Imports nothing of the app: any layer may call it.
"""

from __future__ import annotations

import os
import time

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, values
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

CONTENT_TYPE = CONTENT_TYPE_LATEST
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# A text delta event as both the fast paths and the SDK serialize it; a delta's own text is
# JSON-escaped in the frame, so it cannot contain this sequence.
_TEXT_DELTA = b'"type":"assistant_message.content_part.text_delta"'

HTTP_REQUESTS = Counter(
    "chatkit_http_requests",
    "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
OPEN_STREAMS = Gauge("chatkit_open_streams", "Answers being streamed right now.", multiprocess_mode="livesum")
ANSWERS = Counter("chatkit_answers", "Streamed answers, by how they ended.", ["outcome"])
TIME_TO_FIRST_TOKEN = Histogram(
    "chatkit_time_to_first_token_seconds",
    "From a request that starts an answer to its first streamed text.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60),
)
ANSWER_DURATION = Histogram(
    "chatkit_answer_duration_seconds",
    "From a request that starts an answer to the end of its stream.",
    buckets=(0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
)
TOKENS = Counter("chatkit_streamed_tokens", "Text deltas streamed to clients (a busy server merges waiting ones).")
MODEL_ERRORS = Counter("chatkit_model_errors", "Model calls that failed, by kind (each retry counts).", ["kind"])
SESSIONS = Counter("chatkit_sessions_issued", "ChatKit sessions issued: new ones and refreshes.", ["kind"])
LIMIT_REFUSALS = Counter("chatkit_rate_limit_refusals", "Requests refused by a rate limit or quota.", ["limit"])

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class AnswerMeter:
    """One streamed answer: `opened` when its stream is first read, `chunk` for every frame,
    `closed` once at the end (whatever the end). Tokens are counted here and added to the
    shared counter once, at the end."""

    __slots__ = ("_first", "_started", "tokens")

    def __init__(self, started: float) -> None:
        self._started = started  # time.perf_counter() when the request began
        self._first = True
        self.tokens = 0

    def opened(self) -> None:
        OPEN_STREAMS.inc()

    def chunk(self, chunk: bytes) -> None:
        if _TEXT_DELTA in chunk:
            self.tokens += 1
            if self._first:
                self._first = False
                TIME_TO_FIRST_TOKEN.observe(time.perf_counter() - self._started)

    def closed(self, outcome: str) -> None:
        """`outcome`: completed, cancelled (the client left) or failed."""
        OPEN_STREAMS.dec()
        ANSWER_DURATION.observe(time.perf_counter() - self._started)
        ANSWERS.labels(outcome).inc()
        if self.tokens:
            TOKENS.inc(self.tokens)


def answer_meter(started: float) -> AnswerMeter:
    return AnswerMeter(started)


def http_request(method: str, route: str, status: int) -> None:
    HTTP_REQUESTS.labels(method if method in _METHODS else "OTHER", route, str(status)).inc()


def model_error(kind: str) -> None:
    MODEL_ERRORS.labels(kind).inc()


def session_issued(kind: str) -> None:
    """`kind`: new or refresh."""
    SESSIONS.labels(kind).inc()


def limit_refused(limit: str) -> None:
    LIMIT_REFUSALS.labels(limit).inc()


def multiproc_dir() -> str | None:
    """The directory the metrics of this process are kept in, when several processes share
    one (decided by `prometheus_client` at its import, from `PROMETHEUS_MULTIPROC_DIR`)."""
    if not getattr(values.ValueClass, "_multiprocess", False):
        return None
    return os.environ.get(MULTIPROC_ENV) or None


def render() -> bytes:
    """The exposition text: every process's metrics summed when several write into the
    multi-process directory, else this process's. Live gauges of processes that died (a
    killed worker) are dropped first, so open streams do not stay counted forever."""
    path = multiproc_dir()
    if path is None:
        return generate_latest(REGISTRY)
    from chatkit_app.ops.multiproc import forget_dead_processes

    forget_dead_processes(path)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
    return generate_latest(registry)
