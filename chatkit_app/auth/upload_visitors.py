"""The visitor of each Reflex upload running in this process, by the tab's client token.

Reflex runs an upload's handler (`/_upload`) as an event of the tab's state with no
request headers of its own: it sees the headers saved with the state, and the identity
cookie is never saved (`ui/private_state.py`). With the state in memory those are the
socket's, still holding the cookie; with the state in Redis (several workers or hosts)
every upload read as "not signed in". So the sign-in gate decides the visitor from the
upload request's own cookie and holds it here while the request runs (Reflex runs the
handler in the same process, before the response ends), and the upload handler takes it
by its tab's token (`ui/state.py`, `upload_visitor`).

A client token is no secret: two different visitors uploading with the same token at once
in one process get neither visitor (the handler then finds none and refuses).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from chatkit_app.auth.visitor import Visitor

_CONFLICT = Visitor("", "conflict")
_held: dict[str, tuple[Visitor, int]] = {}  # token -> (its uploads' visitor, how many run)


@contextmanager
def holding(token: str, visitor: Visitor) -> Iterator[None]:
    """While an upload request of `visitor` for tab `token` runs."""
    if not token:
        yield
        return
    held, count = _held.get(token, (visitor, 0))
    _held[token] = (held if held == visitor else _CONFLICT, count + 1)
    try:
        yield
    finally:
        held, count = _held[token]
        if count > 1:
            _held[token] = (held, count - 1)
        else:
            del _held[token]


def visitor_of_upload(token: str) -> Visitor | None:
    """The visitor of the upload running for tab `token`, if exactly one visitor's do."""
    held = _held.get(token)
    if held is None or held[0] is _CONFLICT:
        return None
    return held[0]
