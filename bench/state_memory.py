"""What one big thread costs the server when a visitor opens it in many tabs.

Reflex keeps each tab's state in the backend's memory, so whatever the native chat keeps
in `NativeChatState` is paid once per tab. This makes a ~45 MB thread for one visitor
directly through the store (many ordinary messages and a few very long ones), opens it in
8 tabs of the same visitor (8 Playwright pages in one Chromium context) against
`reflex run --env prod`, and prints the backend's resident memory (all processes of the
server's session, from /proc) before and after. tests/e2e/test_native_ui.py asserts the
8 tabs add less than 100 MB.

    python -m bench.state_memory
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    InferenceOptions,
    UserMessageItem,
    UserMessageTextContent,
)

from chatkit_app import db
from chatkit_app.chatkit_server.store import SQLModelStore, new_id
from chatkit_app.core.context import RequestContext

MB = 1024 * 1024
TABS = 8


@dataclass(frozen=True)
class BigThread:
    items: int = 1200
    item_chars: int = 4_000
    long_items: int = 5  # among the newest, so every tab's window has them
    long_chars: int = 8 * MB


def fill_thread(database_url: str, user_id: str, thread_id: str, shape: BigThread, marker: str = "") -> int:
    """Adds `shape`'s items to the user's thread through the store; returns the bytes of
    text added. The newest item is an assistant message starting with `marker`."""
    engine = db.make_engine(database_url)
    store = SQLModelStore(engine)
    context = RequestContext(user_id=user_id, session_id="bench", workflow_id="assistant")
    start = datetime.now(UTC)
    long_at = {shape.items - 2 - 3 * k for k in range(shape.long_items)}
    added = 0

    async def fill() -> None:
        nonlocal added
        for index in range(shape.items):
            size = shape.long_chars if index in long_at else shape.item_chars
            text = f"{marker if index == shape.items - 1 else ''}message {index} " + "lorem ipsum " * (size // 12)
            added += len(text)
            at = start + timedelta(milliseconds=index)
            item: Any
            if index % 2:
                item = AssistantMessageItem(
                    id=new_id("msg"), thread_id=thread_id, created_at=at, content=[AssistantMessageContent(text=text)]
                )
            else:
                item = UserMessageItem(
                    id=new_id("msg"),
                    thread_id=thread_id,
                    created_at=at,
                    content=[UserMessageTextContent(text=text)],
                    attachments=[],
                    inference_options=InferenceOptions(),
                )
            await store.add_thread_item(thread_id, item, context)

    try:  # in a thread of its own: the caller may be inside Playwright's event loop
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, fill()).result()
    finally:
        engine.dispose()
    return added


def thread_with(database: Path, text: str) -> tuple[str, str]:
    """(user id, thread id) of the one thread with a message containing `text`."""
    connection = sqlite3.connect(database)
    try:
        rows = connection.execute(
            "SELECT DISTINCT i.user_id, i.thread_id FROM chatkit_item i WHERE i.data LIKE ?", (f"%{text}%",)
        ).fetchall()
    finally:
        connection.close()
    assert len(rows) == 1, rows
    return str(rows[0][0]), str(rows[0][1])


def session_rss(leader_pid: int) -> int:
    """Resident bytes of every process in the server's session (`reflex run` started
    with its own session: the CLI and its backend processes)."""
    from tests.e2e.prod_site import session_pids

    total = 0
    for pid in session_pids(leader_pid):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return total


def open_in_tabs(context: Any, url: str, marker: str, tabs: int = TABS) -> list[Any]:
    """`tabs` pages of one visitor (one browser context: one cookie) showing the thread
    whose newest message starts with `marker`; returns the pages (still open)."""
    pages = []
    for _ in range(tabs):
        page = context.new_page()
        page.goto(url)
        page.get_by_test_id("thread-entry").first.wait_for(timeout=60_000)
        page.get_by_test_id("thread-entry").first.get_by_role("button").first.click()
        page.get_by_test_id("assistant-message").filter(has_text=marker).wait_for(timeout=60_000)
        pages.append(page)
    return pages


def measure(context: Any, url: str, database: Path, pid: int, shape: BigThread = BigThread()) -> dict[str, float]:
    """Makes the big thread for the visitor of a browser `context` (whose first message
    starts the thread in a tab, so the thread is the visitor's) and opens it in 8 tabs;
    returns the figures (MB)."""
    first = context.new_page()
    first.goto(url)
    opening = f"start of a very long thread {secrets.token_hex(4)}"
    composer = first.get_by_test_id("composer-input")
    composer.fill(opening)
    composer.press("Enter")
    first.get_by_test_id("message-actions").wait_for(timeout=30_000)
    first.close()
    user_id, thread_id = thread_with(database, opening)
    marker = f"newest-{secrets.token_hex(4)}"
    added = fill_thread(f"sqlite:///{database}", user_id, thread_id, shape, marker)
    before = session_rss(pid)
    pages = open_in_tabs(context, url, marker)
    after = session_rss(pid)
    shown = pages[-1].get_by_test_id("assistant-message").count() + pages[-1].get_by_test_id("user-message").count()
    for page in pages:
        page.close()
    return {
        "thread_mb": added / MB,
        "before_mb": before / MB,
        "after_mb": after / MB,
        "added_mb": (after - before) / MB,
        "messages_shown_per_tab": shown,
    }


def report(figures: dict[str, float]) -> str:
    return (
        f"state memory: a {figures['thread_mb']:.1f} MB thread in {TABS} tabs: backend RSS "
        f"{figures['before_mb']:.0f} MB -> {figures['after_mb']:.0f} MB "
        f"(+{figures['added_mb']:.1f} MB; {figures['messages_shown_per_tab']:.0f} messages per tab)"
    )


def main() -> None:
    from playwright.sync_api import sync_playwright

    from tests.e2e.prod_site import CHROMIUM, CHROMIUM_ARGS, SERVER_PIDS, copy_site, free_port, running_site
    from tests.e2e.test_prod_backend import _env

    with tempfile.TemporaryDirectory(prefix="state-memory-") as tmp:
        root = Path(tmp)
        copy_site(root)
        unreachable = f"http://127.0.0.1:{free_port()}/chatkit.js"  # the native UI, at once
        env = _env(root / "data", CHATKIT_SECRET=secrets.token_urlsafe(48), CHATKIT_SCRIPT_URL=unreachable)
        with running_site(root, env) as url, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                figures = measure(browser.new_context(), url, root / "data" / "fresh.db", SERVER_PIDS[url])
                print(report(figures))
            finally:
                browser.close()


if __name__ == "__main__":
    main()
