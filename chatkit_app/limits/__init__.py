"""Quotas and rate limits: one policy (`LimitPolicy`) on the `limits` library, with the
database for what only it knows (model tokens used, uploads not yet sent)."""

from __future__ import annotations

import time
from collections.abc import Callable

from chatkit_app.limits.ledger import Ledger, Transaction
from chatkit_app.limits.policy import LimitPolicy, Quotas
from chatkit_app.limits.rates import make_storage
from chatkit_app.settings import Settings

__all__ = ["LimitPolicy", "Quotas", "build_policy"]
KEY_PREFIX = "chatkit_limits"


def build_policy(
    settings: Settings,
    transaction: Transaction,
    *,
    key_prefix: str = KEY_PREFIX,
    clock: Callable[[], float] = time.time,
) -> LimitPolicy:
    """The policy of `settings`: Redis storage when `REDIS_URL` (or `REFLEX_REDIS_URL`) is
    set, memory otherwise; `transaction` runs the ledger's queries (`SQLModelStore.transaction`)."""
    storage = make_storage(settings.resolved_redis_url, key_prefix)
    return LimitPolicy(Quotas.from_settings(settings), storage, Ledger(transaction), clock=clock)
