"""`shell.log_backend_error`, Reflex's handler for an event handler's exception: in
production the traceback goes to the log and nothing to the page (Reflex's toast is a
script the native UI's CSP refuses); in development Reflex's own toast stays."""

from __future__ import annotations

import logging

import pytest
from reflex.event import EventSpec

from chatkit_app.shell import log_backend_error


def _failure() -> ValueError:
    try:
        raise ValueError("the handler broke")
    except ValueError as exc:
        return exc


def test_in_production_it_is_logged_and_the_page_gets_nothing(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("REFLEX_ENV_MODE", "prod")
    with caplog.at_level(logging.ERROR, logger="chatkit_app.shell"):
        assert log_backend_error(_failure()) is None
    assert "event handler failed" in caplog.text
    assert "ValueError: the handler broke" in caplog.text and "_failure" in caplog.text


def test_in_development_reflex_s_toast_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REFLEX_ENV_MODE", "dev")
    assert isinstance(log_backend_error(_failure()), EventSpec)
