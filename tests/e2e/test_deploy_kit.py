"""The deploy kit, run without containers: `make build` once, two hosts laid out as the
Dockerfile's `app` image (`python -m chatkit_app.serve`, their own data directories,
sharing PostgreSQL and Redis), and deploy/Caddyfile in front with the real `caddy`.

A visitor chats through Caddy (pages and websocket proxied, the build's assets served by
Caddy itself), one host is killed, and the chat goes on through the other. SIGTERM lets a
reply finish within CHATKIT_SHUTDOWN_GRACE_SECONDS; past it, the reply is cut and the
thread keeps what had streamed."""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.api.chatkit_client import Reply
from tests.e2e import hosts
from tests.e2e.prod_site import free_port
from tests.e2e.test_prod_backend import _env

pytestmark = pytest.mark.slow

DEFAULT_UI = {"CHATKIT_UI_MODE": "auto", "CHATKIT_SCRIPT_URL": f"http://127.0.0.1:{free_port()}/chatkit.js"}


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One build for a public URL (Caddy's address), two host directories made from it. The
    UI mode is the default one (ChatKit, the native chat when its script does not load), as
    a deployment has it; here ChatKit's script address answers nothing."""
    root = tmp_path_factory.mktemp("deploy")
    built = hosts.build_kit(root, **DEFAULT_UI)
    yield {"kit": built, "hosts": [built.host(root / name) for name in ("host-a", "host-b")]}


def _loads_the_chat(frame: str | bytes) -> bool:
    """A frame of the page asking for its chat again after a reconnect."""
    return any(f'native_chat_state.{name}"' in str(frame) for name in ("resume", "load"))


def _host_env(host: Path, kit: dict[str, Any], database: str, redis: str, **extra: str) -> dict[str, str]:
    return hosts.host_env(host, kit["kit"], kit["secret"], database, redis, **{**DEFAULT_UI, **extra})


def test_two_hosts_behind_caddy_serve_one_build_and_survive_a_dead_host(
    kit: dict[str, Any], postgres_url: str, redis_url: str, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    kit["secret"] = secrets.token_urlsafe(48)
    host_a, host_b = kit["hosts"]
    two_workers = _host_env(host_a, kit, postgres_url, redis_url, CHATKIT_WORKERS="2")
    with (
        hosts.serving(host_a, two_workers) as (url_a, process_a),
        hosts.serving(host_b, _host_env(host_b, kit, postgres_url, redis_url)) as (url_b, _),
    ):
        # One build: both hosts point the browser at the same files.
        page_a, page_b = httpx.get(url_a).text, httpx.get(url_b).text
        assert hosts.scripts(page_a) and hosts.scripts(page_a) == hosts.scripts(page_b)

        with hosts.caddy(kit["kit"], [url_a, url_b], tmp_path):
            public = kit["kit"].public_url

            # Pages come from the app (its security headers on them); assets from Caddy.
            home = httpx.get(public)
            assert home.status_code == 200 and "content-security-policy" in home.headers
            script = httpx.get(public + hosts.scripts(home.text)[0], headers={"Accept-Encoding": "gzip"})
            assert script.status_code == 200
            assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert script.headers.get("server", "").lower() == "caddy"
            assert httpx.get(f"{public}/metrics").status_code == 404  # the scraper reads each host
            assert httpx.get(f"{url_b}/metrics").status_code == 200
            ready = httpx.get(f"{public}/readyz").json()
            assert ready["checks"]["database"]["ok"] and ready["checks"]["redis"]["ok"]

            page = browser.new_page()
            sockets: list[str] = []
            page.on("websocket", lambda socket: sockets.append(socket.url))
            try:
                page.goto(public)
                composer = page.get_by_test_id("composer-input")
                composer.wait_for(timeout=60_000)
                composer.fill("hello through caddy")
                composer.press("Enter")
                expect(page.get_by_test_id("assistant-message").last).to_contain_text(
                    "hello through caddy", timeout=30_000
                )
                assert sockets and all(url.startswith(f"ws://127.0.0.1:{kit['kit'].public_port}/") for url in sockets)

                # A host's workers die and are replaced: the tab reconnects (the balancer may
                # send it back to host A, whose new worker hands it a fresh state) and its
                # chat goes on in the same thread.
                with page.expect_websocket(timeout=60_000) as reconnected:
                    hosts.kill_workers(process_a)
                reconnected.value.wait_for_event("framesent", predicate=_loads_the_chat, timeout=30_000)
                expect(page.get_by_test_id("user-message")).to_have_text(["hello through caddy"], timeout=30_000)
                composer.fill("still here after the workers died")
                composer.press("Enter")
                expect(page.get_by_test_id("user-message")).to_have_text(
                    ["hello through caddy", "still here after the workers died"], timeout=60_000
                )
                expect(page.get_by_test_id("assistant-message").last).to_contain_text(
                    "still here after the workers died", timeout=60_000
                )

                # A host dies: the chat goes on through the other one (state in Redis).
                hosts.kill(process_a)
                expect(page.get_by_test_id("stop-button")).to_have_count(0, timeout=30_000)
                composer.fill("still here after a host died")
                composer.press("Enter")
                expect(page.get_by_test_id("user-message")).to_have_text(
                    ["hello through caddy", "still here after the workers died", "still here after a host died"],
                    timeout=60_000,
                )
                expect(page.get_by_test_id("assistant-message").last).to_contain_text(
                    "still here after a host died", timeout=60_000
                )
                page.reload()
                expect(page.get_by_test_id("thread-entry")).to_have_count(1, timeout=60_000)
            finally:
                page.close()


def _stream_until_sigterm(url: str, api_key: str, process: subprocess.Popen[bytes]) -> tuple[str, str, bool]:
    """Starts a long reply (the offline agent echoes 600 words, ~6 s), SIGTERMs the server
    a second in; returns (thread id, text streamed, whether the reply ended normally)."""
    made = httpx.post(
        f"{url}/api/chatkit/session",
        json={"userId": "alice", "workflowId": "assistant"},
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert made.status_code == 201, made.text
    words = " ".join(f"word{n}" for n in range(600))
    request = {
        "type": "threads.create",
        "params": {
            "input": {"content": [{"type": "input_text", "text": words}], "attachments": [], "inference_options": {}}
        },
    }
    reply, sent, started = Reply(), False, time.monotonic()
    headers = {"Authorization": f"Bearer {made.json()['token']}"}
    try:
        with httpx.stream("POST", f"{url}/api/chatkit", json=request, headers=headers, timeout=60) as response:
            for line in response.iter_lines():
                if reply.read(line) is None:
                    continue
                if not sent and time.monotonic() - started > 1.0:
                    process.send_signal(signal.SIGTERM)
                    sent = True
    except httpx.HTTPError:
        pass  # cut by the shutdown
    assert sent
    return reply.thread_id, reply.streamed, reply.finished


@pytest.mark.parametrize("grace", [20, 1])
def test_sigterm_lets_replies_finish_within_the_grace_and_keeps_what_streamed(
    kit: dict[str, Any], grace: int, tmp_path: Path
) -> None:
    host = kit["hosts"][1]
    api_key = secrets.token_urlsafe(32)
    kit.setdefault("secret", secrets.token_urlsafe(48))
    data = tmp_path / "data"
    env = _env(
        data,
        CHATKIT_SECRET=kit["secret"],
        CHATKIT_API_KEY=api_key,
        CHATKIT_PUBLIC_URL=kit["kit"].public_url,
        CHATKIT_SHUTDOWN_GRACE_SECONDS=str(grace),
    )
    with hosts.serving(host, env) as (url, process):
        thread_id, streamed, finished = _stream_until_sigterm(url, api_key, process)
        stopped = time.monotonic()
        assert process.wait(timeout=grace + 15) == 0 or grace == 1
        took = time.monotonic() - stopped
    engine = create_engine(f"sqlite:///{data / 'fresh.db'}")
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT data FROM chatkit_item WHERE thread_id = :t AND type = 'assistant_message'"), {"t": thread_id}
        ).fetchall()
    engine.dispose()
    assert len(rows) == 1
    saved = "".join(part["text"] for part in json.loads(rows[0][0])["content"])
    if grace == 20:
        assert finished and "word599" in streamed and "word599" in saved  # the reply was let finish
    else:
        assert not finished and "word599" not in streamed and took < 10  # cut at the grace's end
        assert saved and streamed.startswith(saved)  # what had streamed (to the last second) is kept
