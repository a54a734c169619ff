"""The socket is up but the server cannot act: its Redis goes away mid-chat. The native
UI says so in plain words (from /readyz), keeps the message in the box, sends it once
Redis is back, and a page loaded during the outage loads itself again afterwards, with
what was typed in it back in the box, and what was sent from it sent."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.prod_site import OwnRedis, copy_site, free_port, running_site
from tests.e2e.test_prod_backend import _env

pytestmark = pytest.mark.slow


def test_redis_going_away_is_said_and_the_message_waits_for_it(tmp_path: Path, browser: Any) -> None:
    from playwright.sync_api import expect

    from tests.e2e.conftest import _require_chromium

    _require_chromium()
    if subprocess.run(["which", "redis-server"], capture_output=True).returncode != 0:
        pytest.skip("redis-server is not installed")
    root = tmp_path / "site"
    copy_site(root)
    port = free_port()
    env = _env(
        root / "data",
        CHATKIT_SECRET=secrets.token_urlsafe(48),
        CHATKIT_UI_MODE="native",
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
    )
    own = OwnRedis(port)
    own.start()
    page = browser.new_page()
    try:
        with running_site(root, env) as url:
            page.goto(url)
            composer = page.get_by_test_id("composer-input")
            composer.fill("before the outage")
            composer.press("Enter")
            expect(page.get_by_test_id("assistant-message").last).to_contain_text("before the outage", timeout=30_000)

            own.stop()  # Redis stops
            composer.fill("written while redis is down")
            composer.press("Enter")
            status = page.get_by_test_id("service-status")
            expect(status).to_contain_text("Redis", timeout=30_000)
            expect(composer).to_have_value("written while redis is down")  # kept, not dropped

            own.start()  # back (empty: Reflex's state is gone, the thread is not)
            expect(status).to_have_count(0, timeout=30_000)
            expect(page.get_by_test_id("user-message")).to_have_text(
                ["before the outage", "written while redis is down"], timeout=30_000
            )
            expect(composer).to_have_value("", timeout=30_000)
            expect(page.get_by_test_id("assistant-message").last).to_contain_text("written while redis is down")

            # A page opened during an outage says so, then loads once Redis is back.
            own.stop()
            page.reload()
            expect(page.get_by_test_id("service-status")).to_contain_text("Redis", timeout=30_000)
            composer.fill("typed while the page waited")  # not sent: it must survive the reload
            own.start()
            expect(page.get_by_test_id("user-message")).to_have_text(
                ["before the outage", "written while redis is down"], timeout=60_000
            )
            expect(page.get_by_test_id("service-status")).to_have_count(0)
            expect(composer).to_have_value("typed while the page waited")

            # A message sent from a page stuck loading goes to its thread once the page is back.
            own.stop()
            page.reload()
            expect(page.get_by_test_id("service-status")).to_contain_text("Redis", timeout=30_000)
            composer.fill("sent while the page waited")
            composer.press("Enter")
            own.start()
            expect(page.get_by_test_id("user-message")).to_have_text(
                ["before the outage", "written while redis is down", "sent while the page waited"], timeout=60_000
            )
            expect(composer).to_have_value("", timeout=30_000)
            expect(page.get_by_test_id("assistant-message").last).to_contain_text("sent while the page waited")
    finally:
        page.close()
        own.stop()
    # Failed events are logged, not answered with a script the page's CSP refuses (and
    # reports back, which failed again while Redis was down: a loop for the outage's length).
    log = (root / "site.log").read_text(errors="replace")
    assert "event handler failed" in log
    assert "EvalError" not in log and "Reflex Frontend Exception" not in log
