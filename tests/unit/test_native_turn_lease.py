"""A turn's lease: held while its owner beats, over for everyone else once it is silent
for LEASE_SECONDS (its process died), and an owner that lost it must stop."""

from __future__ import annotations

from chatkit_app.ui.native.turn_lease import (
    LEASE_SECONDS,
    LIVE_OWNERS,
    NO_LEASE,
    PROCESS_TAG,
    Lease,
    expired,
    held_by,
    new_owner,
    remaining,
    renewed,
    stale_here,
    taken,
)


def test_no_owner_is_no_turn() -> None:
    assert expired(NO_LEASE, 0.0)
    assert not held_by(NO_LEASE, "")
    assert remaining(NO_LEASE, 100.0) == 0.0


def test_a_beating_owner_keeps_its_turn() -> None:
    lease = taken("a", 100.0)
    for now in (101.0, 104.0, 107.0, 110.0):  # each beat within the lease of the last
        assert not expired(lease, now)
        beat = renewed(lease, "a", now)
        assert beat is not None
        lease = beat
    assert lease == Lease("a", 110.0)
    assert remaining(lease, 112.0) == LEASE_SECONDS - 2


def test_a_silent_owner_loses_the_turn_after_the_lease() -> None:
    lease = taken("a", 100.0)
    assert not expired(lease, 100.0 + LEASE_SECONDS)
    assert expired(lease, 100.0 + LEASE_SECONDS + 0.01)
    assert remaining(lease, 100.0 + LEASE_SECONDS + 1) == 0.0


def test_an_owner_whose_turn_was_taken_cannot_renew_it() -> None:
    lease = taken("b", 200.0)  # taken over from "a" as expired
    assert renewed(lease, "a", 201.0) is None
    assert not held_by(lease, "a") and held_by(lease, "b")


def test_a_heartbeat_never_goes_back_in_time() -> None:
    lease = taken("a", 100.0)
    assert renewed(lease, "a", 99.0) == lease  # another host's clock a little behind


def test_a_heartbeat_from_far_in_the_future_counts_as_silence() -> None:
    assert expired(taken("a", 1_000.0), 100.0)


def test_owners_are_unique_and_name_this_process() -> None:
    first, second = new_owner(), new_owner()
    assert first != second and first.startswith(PROCESS_TAG + ":")


def test_a_turn_of_this_process_whose_task_is_gone_is_over_at_once() -> None:
    owner = new_owner()
    lease = taken(owner, 100.0)
    LIVE_OWNERS.add(owner)
    try:
        assert not stale_here(lease)
    finally:
        LIVE_OWNERS.discard(owner)
    assert stale_here(lease)
    assert not stale_here(taken("otherhost:1:abc:def", 100.0))  # another process: wait for the lease
