"""Reflex state that never persists a credential.

Reflex pickles every state to `.states/` (disk) or Redis between events. Two things must
never be in those pickles: our credentials (a state lists them in a `_never_persisted`
ClassVar) and the request headers that carry one (the identity cookie, an Authorization
header), which Reflex keeps on every state (`router_data["headers"]`, `rx_router_headers`).
Headers are rebuilt from the live connection for every event, so leaving those out loses
nothing. `router_data` itself stays (without them): Reflex reads an empty one as "this
state tree expired" and would reset it.

Reflex's `BaseState.__getstate__` is wrapped once, here, for every state (the root state
holds the headers too); `tests/unit/test_private_state.py` checks the names it relies on.
`CHATKIT_FAST_PATHS` does not apply: this is a security property, not a speed-up.
"""

from __future__ import annotations

from typing import Any

from reflex.state import BaseState

SECRET_HEADERS = frozenset({"cookie", "authorization", "proxy-authorization", "x-api-key"})
HEADER_FIELDS = ("rx_router_headers",)  # rebuilt from `router_data` at the next event

_original_getstate = BaseState.__getstate__


def _getstate_without_credentials(self: BaseState) -> dict[str, Any]:
    fields: dict[str, Any] = dict(_original_getstate(self))  # type: ignore[no-untyped-call]
    for name in (*HEADER_FIELDS, *getattr(type(self), "_never_persisted", ())):
        fields.pop(name, None)
    router_data = fields.get("router_data")
    if isinstance(router_data, dict) and isinstance(router_data.get("headers"), dict):
        headers = {k: v for k, v in router_data["headers"].items() if k.lower() not in SECRET_HEADERS}
        fields["router_data"] = {**router_data, "headers": headers}
    return fields


if getattr(BaseState.__getstate__, "__name__", "") != _getstate_without_credentials.__name__:
    BaseState.__getstate__ = _getstate_without_credentials  # type: ignore[method-assign]
