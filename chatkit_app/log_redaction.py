"""Secrets never reach a log line, at any level.

Our own code logs no secrets, but the servers and libraries around it do: Reflex logs a
whole websocket event (its client token and the connection's headers, cookies included)
when an event names an unknown handler; access logs carry URLs with `sig=` (signed image
previews) or `token=` query values; a debug log of a request may show its headers.
`RedactingFilter` rewrites each record's message, arguments and traceback text before a
handler formats it: cookies, `Authorization` values, Reflex client tokens, JWT-looking
strings (`eyJ…`: our session tokens are JWTs), and secret-bearing query values.

`install()` puts the filter on the root logger and on the loggers of Reflex, Uvicorn,
Granian and Socket.IO/Engine.IO and on each of their handlers (a logger's filter sees
only records logged to that very logger; a handler's filter sees every record it
prints, including those propagated from child loggers), and also wraps the log record
factory so that handlers added later (Granian's worker logging config, Reflex's sinks)
never see an unredacted record. It is idempotent; the app calls it at import and again
at startup, once the server has configured its logging.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Callable
from typing import Any

MASK = "[redacted]"
LOGGER_NAMES = (
    "reflex",
    "reflex_base",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "granian",
    "granian.access",
    "_granian",
    "socketio",
    "socketio.server",
    "engineio",
    "engineio.server",
    "chatkit_app",
)
ARGS_KEPT = {"uvicorn.access"}
_SENSITIVE_HEADER_NAMES = r"(?:set-)?cookie|authorization|proxy-authorization|reflex-client-token|x-api-key"
_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # ASGI header tuples: (b'cookie', b'a=b; c=d')
    (re.compile(rf"(?i)(b?['\"](?:{_SENSITIVE_HEADER_NAMES})['\"]\s*,\s*b?)(['\"]).*?\2"), rf"\1\2{MASK}\2"),
    # dict/JSON reprs: 'cookie': 'a=b', "authorization": "Bearer x"
    (re.compile(rf"(?i)(['\"](?:{_SENSITIVE_HEADER_NAMES})['\"]\s*:\s*)(['\"]).*?\2"), rf"\1\2{MASK}\2"),
    # header lines: Cookie: a=b; c=d
    (re.compile(rf"(?im)(^|[\s,;{{(])((?:{_SENSITIVE_HEADER_NAMES})\s*[:=]\s*)[^\n'\"]+"), rf"\1\2{MASK}"),
    # named secrets: token='…', "client_token": "…", browser_token=…, anon_cookie: …
    (
        re.compile(
            r"(?i)\b((?:[a-z_]*token|anon_cookie|[a-z_]*secret|password)['\"]?\s*[:=]\s*['\"]?)"
            r"[^'\"\s,&;)}]{8,}"
        ),
        rf"\1{MASK}",
    ),
    # Reflex's debug lines: "... for token 0b1c…-…" (client tokens are UUIDs)
    (re.compile(r"(?i)(\btoken\s+)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), rf"\1{MASK}"),
    # secret query values: ?sig=…, &token=…
    (
        re.compile(r"(?i)([?&](?:sig|token|access_token|id_token|refresh_token|code|state|client_secret)=)[^&\s'\"#]+"),
        rf"\1{MASK}",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), rf"\1 {MASK}"),
    # JWTs (and anything that starts like one): base64url of '{"'
    (re.compile(r"eyJ[A-Za-z0-9_-]{6,}(?:\.[A-Za-z0-9_-]*){0,2}"), MASK),
    # our identity cookie's value, wherever it appears
    (re.compile(r"(chatkit_[a-z_]+=)[^;\s'\"]+"), rf"\1{MASK}"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_arg(value: object) -> object:
    if isinstance(value, (int, float)) or value is None:
        return value
    return redact(value if isinstance(value, str) else str(value))


def redact_record(record: logging.LogRecord) -> None:
    """Redacts in place: the message is formatted with its arguments first (a pattern
    could otherwise eat a `%s`), except for Uvicorn's access records, whose formatter
    unpacks the arguments: those keep their shape, each argument redacted."""
    if getattr(record, "_chatkit_redacted", False):
        return
    if record.name in ARGS_KEPT and isinstance(record.args, tuple):
        record.args = tuple(_redact_arg(value) for value in record.args)
    else:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep its parts, redacted
            message = f"{record.msg} {record.args}"
        record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[1] is not None:
        # The traceback as redacted text; a handler rendering exc_info itself (rich,
        # with locals) would print the exception's message and locals unredacted.
        text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
        record.msg = f"{record.msg}\n{text.replace('%', '%%') if record.args else text}"
        record.exc_info = None
        record.exc_text = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._chatkit_redacted = True


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_FILTER = RedactingFilter()


def _add_filter(target: logging.Filterer) -> None:
    if not any(isinstance(existing, RedactingFilter) for existing in target.filters):
        target.addFilter(_FILTER)


def _wrap_factory() -> None:
    current: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()
    if getattr(current, "_chatkit_redacting", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = current(*args, **kwargs)
        redact_record(record)
        return record

    factory._chatkit_redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def install() -> None:
    """Idempotent: the filter on the root logger, the servers' loggers and all their
    handlers, and the redacting record factory."""
    _wrap_factory()
    for logger in [logging.getLogger(), *(logging.getLogger(name) for name in LOGGER_NAMES)]:
        _add_filter(logger)
        for handler in logger.handlers:
            _add_filter(handler)
