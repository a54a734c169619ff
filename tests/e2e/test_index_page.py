"""A visitor opens the site and gets a live session issued by our server."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from chatkit_app.services import get_services

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{20,}")  # a signed token's shape


def test_index_shows_active_session(site: Any, browser: Any) -> None:
    page = browser.new_page()
    try:
        page.goto(site.frontend_url)
        page.locator('[data-testid="session-indicator"][data-status="active"]').wait_for(timeout=60_000)
        expect(page.get_by_test_id("agent-badge")).to_contain_text(re.compile(r"^Offline demo agent"))
        page.get_by_test_id("session-button").click()  # the details live in a popover
        status = page.locator('[data-testid="session-status"][data-status="active"]')
        expect(status).to_contain_text("Session active", timeout=10_000)

        expect(page.get_by_test_id("session-user")).to_have_text(re.compile(r"^anon_[A-Za-z0-9_\-]{32}$"))
        expect(page.get_by_test_id("session-id")).to_have_text(re.compile(r"^cks_[A-Za-z0-9_\-]{32}$"))
        expect(page.get_by_test_id("session-agent")).to_contain_text(re.compile(r"^Offline demo agent"))
        user_id = page.get_by_test_id("session-user").inner_text()
        session_id = page.get_by_test_id("session-id").inner_text()

        # The session on the page is a real, live row in the server's database.
        services = get_services()
        row = services.sessions._get(session_id)
        assert row.user_id == user_id and row.revoked_at is None

        # The token never reaches the DOM or the cookies (only the chat's memory).
        html = page.content()
        assert row.current_jti not in html and not JWT.search(html)
        cookies = page.context.cookies()
        # (A random cookie value may hold the letters "eyJ": what must not appear is a token.)
        assert not any(JWT.search(cookie["value"]) for cookie in cookies)
        assert any(cookie["name"] == "chatkit_anon" for cookie in cookies)

        # Refreshing rotates the token server-side; the page stays active.
        page.get_by_role("button", name="Refresh token").click()
        page.locator('[data-testid="session-status"][data-status="active"]').wait_for(timeout=30_000)
        page.get_by_role("button", name="Validate").click()
        page.get_by_test_id("session-check").wait_for(timeout=30_000)
        assert services.sessions._get(session_id).current_jti != row.current_jti

        # The same browser keeps its anonymous identity across a reload.
        page.reload()
        page.locator('[data-testid="session-indicator"][data-status="active"]').wait_for(timeout=60_000)
        page.get_by_test_id("session-button").click()
        expect(page.get_by_test_id("session-user")).to_have_text(user_id)
    finally:
        page.close()
