"""Reflex state that never persists a credential.

Reflex pickles every state to `.states/` (disk) or Redis between events. Two things must
never be in those pickles: our credentials (a state lists them in a `_never_persisted` ClassVar) and
the connection's request headers, which Reflex keeps on every state (`router_data`,
`rx_router_headers`) and which carry the identity cookie. Both are rebuilt on the next
event from the live connection, so dropping them loses nothing.

Reflex's `BaseState.__getstate__` is wrapped once, here, for every state (the root state
holds the headers too); `tests/unit/test_private_state.py` checks the names it relies on.
`CHATKIT_FAST_PATHS` does not apply: this is a security property, not a speed-up.
"""

from __future__ import annotations

from typing import Any

from reflex.state import BaseState

# Per-connection router data (rebuilt from the connection for every event).
CONNECTION_FIELDS = ("router_data", "rx_router_headers", "rx_router_session")

_original_getstate = BaseState.__getstate__


def _getstate_without_credentials(self: BaseState) -> dict[str, Any]:
    fields: dict[str, Any] = dict(_original_getstate(self))  # type: ignore[no-untyped-call]
    for name in (*CONNECTION_FIELDS, *getattr(type(self), "_never_persisted", ())):
        fields.pop(name, None)
    return fields


if getattr(BaseState.__getstate__, "__name__", "") != _getstate_without_credentials.__name__:
    BaseState.__getstate__ = _getstate_without_credentials  # type: ignore[method-assign]
