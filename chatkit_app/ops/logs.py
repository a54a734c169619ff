"""Log lines as JSON (`CHATKIT_LOG_FORMAT=json`), each with the request id of the request
it was logged in.

The request id lives in a context variable set by the ops middleware for the whole of a
request (threads started with the request's context see it too). `JsonFormatter` writes
one object per line: time, level, logger, message, pid, and `request_id` when there is
one. The message is the record's, after `log_redaction` rewrote it (the redacting record
factory runs when a record is made, before any handler), so secrets stay out of JSON
lines as out of text ones.

`install(format)` puts the formatter on the root logger's handlers and on those of the
servers' own loggers (Granian, Uvicorn), and sends Reflex's records to the root logger
instead of its console sink; idempotent, called at import and again at startup (Granian
configures its logging in each worker). Text mode changes nothing.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("chatkit_request_id", default=None)
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_SERVER_LOGGERS = (
    "_granian",
    "granian",
    "granian.access",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
)


def request_id_from(header: str | None) -> str:
    """A trusted proxy's `X-Request-ID` when it is short and made of safe characters (kept
    so lines can be matched across both), else a new random one."""
    if header and _SAFE_ID.match(header):
        return header
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            payload["request_id"] = request_id
        if record.exc_info:  # redaction normally folds the traceback into the message
            payload["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            payload["exception"] = record.exc_text
        return json.dumps(payload, ensure_ascii=False, default=str)


_FORMATTER = JsonFormatter()


def install(log_format: str) -> None:
    """JSON lines on every handler of the root and the servers' loggers (see the module)."""
    if log_format != "json":
        return
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler(sys.stderr))
    for name in ("", *_SERVER_LOGGERS):
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(_FORMATTER)
    reflex = logging.getLogger("reflex")  # its console sink renders with rich, not a formatter
    for handler in list(reflex.handlers):
        reflex.removeHandler(handler)
    reflex.propagate = True
