"""The backend's garbage collector runs less often than Python's default, unless the app
chose its own thresholds (`AppChatKitServer`, bench/streaming.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from chatkit_app.chatkit_server.server import GC_THRESHOLDS, tune_gc


@pytest.fixture
def thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_pythons_default_thresholds_are_raised(thresholds: None) -> None:
    gc.set_threshold(700, 10, 10)
    tune_gc()
    assert gc.get_threshold() == GC_THRESHOLDS
    assert GC_THRESHOLDS[0] > 700


def test_thresholds_the_app_chose_are_kept(thresholds: None) -> None:
    gc.set_threshold(1234, 5, 7)
    tune_gc()
    assert gc.get_threshold() == (1234, 5, 7)
