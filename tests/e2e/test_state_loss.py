"""Reflex state is disposable: after the production server restarts (every tab's state
gone), a visitor is still the same user with the same history, because who they are
comes from their HttpOnly cookie and their threads from the database. Nothing of theirs
is on disk outside the database: no `.states/` files, no cookie in the log."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.prod_site import copy_site, running_site
from tests.e2e.test_prod_backend import _env

pytestmark = pytest.mark.slow


def test_identity_and_history_survive_a_restart(tmp_path: Path, browser: Any) -> None:
    from playwright.sync_api import expect

    from tests.e2e.conftest import _require_chromium

    _require_chromium()
    root = tmp_path / "site"
    copy_site(root)
    env = _env(root / "data", CHATKIT_SECRET=secrets.token_urlsafe(48), CHATKIT_UI_MODE="native")
    context = browser.new_context()
    page = context.new_page()
    try:
        with running_site(root, env) as url:
            page.goto(url)
            composer = page.get_by_test_id("composer-input")
            composer.wait_for(timeout=30_000)
            composer.fill("remember me across a restart")
            composer.press("Enter")
            expect(page.get_by_test_id("assistant-message").first).to_contain_text("remember me", timeout=30_000)
            page.locator('[data-testid="stop-button"]').wait_for(state="detached", timeout=20_000)
            before = {c["name"]: c for c in context.cookies()}
            anon = before["chatkit_anon"]
            assert anon["httpOnly"] and anon["sameSite"] == "Lax"
            assert page.evaluate("document.cookie").find("chatkit_anon") == -1  # not readable by scripts
        with running_site(root, env, port=int(url.rsplit(":", 1)[1])) as again:
            assert again == url
            page.reload()
            entries = page.get_by_test_id("thread-entry")
            expect(entries.first).to_contain_text("remember me across a restart", timeout=30_000)
            assert {c["name"]: c["value"] for c in context.cookies()}["chatkit_anon"] == anon["value"]
    finally:
        context.close()
    assert not (root / ".states").exists() or not any((root / ".states").iterdir())
    log = (root / "site.log").read_text(errors="replace")
    assert anon["value"] not in log and anon["value"].split(".")[0] not in log
