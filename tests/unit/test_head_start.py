"""`HeadStart`: an answer that has sent its model call waits while other requests are
still arriving, never longer than `max_wait`; leaving twice counts once."""

from __future__ import annotations

import asyncio

from chatkit_app.chatkit_server.head_start import HeadStart


async def test_nobody_arriving_means_no_wait() -> None:
    gate = HeadStart(max_wait=5)
    await asyncio.wait_for(gate.wait_turn(), 0.1)


async def test_an_answer_waits_until_the_arrivals_are_done() -> None:
    gate = HeadStart(max_wait=5)
    first, second = gate.arrive(), gate.arrive()
    waiting = asyncio.create_task(gate.wait_turn())
    await asyncio.sleep(0.05)
    first.done()
    first.done()  # counted once
    await asyncio.sleep(0.05)
    assert not waiting.done() and gate.arriving == 1
    second.done()
    await asyncio.wait_for(waiting, 0.1)
    assert gate.arriving == 0


async def test_the_wait_is_bounded() -> None:
    gate = HeadStart(max_wait=0.05)
    gate.arrive()  # e.g. a slow request still reading its body
    loop = asyncio.get_running_loop()
    started = loop.time()
    await gate.wait_turn()
    assert 0.04 <= loop.time() - started < 0.5


async def test_a_new_arrival_holds_later_answers_again() -> None:
    gate = HeadStart(max_wait=5)
    gate.arrive().done()
    await asyncio.wait_for(gate.wait_turn(), 0.1)
    late = gate.arrive()
    waiting = asyncio.create_task(gate.wait_turn())
    await asyncio.sleep(0.05)
    assert not waiting.done()
    late.done()
    await asyncio.wait_for(waiting, 0.1)
