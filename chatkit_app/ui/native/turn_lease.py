"""Who runs the reply that streams, and whether they still do: a lease.

`streaming` alone cannot tell a reply that is running from one whose process died: the
flag was saved with the tab's state (Redis) and nothing will ever clear it. So a turn
has an owner (one background task, named by host, process and a random part) and a
heartbeat the owner refreshes at every flush. A lease whose heartbeat is older than
`LEASE_SECONDS` is over: anyone may end that turn and take the next one. Times are wall
clock seconds (`time.time()`), comparable across the processes and hosts that share the
state.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass, replace

LEASE_SECONDS = 6.0  # an owner flushes every 0.05 s; this much silence means it is gone
PROCESS_TAG = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
LIVE_OWNERS: set[str] = set()  # the owners running in this process right now


@dataclass(frozen=True)
class Lease:
    owner: str = ""  # "" when no turn runs
    beat: float = 0.0  # the owner's last heartbeat (wall clock seconds)


NO_LEASE = Lease()


def new_owner() -> str:
    """A name for one task of this process that may run a turn."""
    return f"{PROCESS_TAG}:{secrets.token_hex(4)}"


def taken(owner: str, now: float) -> Lease:
    return Lease(owner, now)


def held_by(lease: Lease, owner: str) -> bool:
    return bool(owner) and lease.owner == owner


def renewed(lease: Lease, owner: str, now: float) -> Lease | None:
    """The lease with a fresh heartbeat; None when `owner` no longer holds it (it was
    taken over as expired): that owner must stop and leave the state alone."""
    if not held_by(lease, owner):
        return None
    return replace(lease, beat=max(lease.beat, now))


def expired(lease: Lease, now: float, ttl: float = LEASE_SECONDS) -> bool:
    """Whether the turn is over for everyone but its owner: no owner, or no heartbeat
    for `ttl` seconds. A heartbeat far in the future (a skewed clock) counts as silence."""
    if not lease.owner:
        return True
    return now - lease.beat > ttl or lease.beat - now > ttl


def remaining(lease: Lease, now: float, ttl: float = LEASE_SECONDS) -> float:
    """Seconds until the lease expires without a heartbeat (0 when it has)."""
    return 0.0 if expired(lease, now, ttl) else max(0.0, lease.beat + ttl - now)


def stale_here(lease: Lease) -> bool:
    """Owned by a task of this process that no longer runs: over now, no need to wait
    (the task ended without giving the turn back)."""
    return lease.owner.startswith(PROCESS_TAG + ":") and lease.owner not in LIVE_OWNERS
