"""Two hosts, as issue 15's operator runs them: two `python -m chatkit_app.serve` processes
with two workers each and data directories of their own, sharing PostgreSQL, Redis and an
S3 bucket (a real S3-compatible server on loopback), behind the real `caddy` with
deploy/Caddyfile, serving one `make build`.

- a file uploaded through one host is downloaded, previewed and sent to the model through
  the other;
- a worker killed mid-reply: the thread keeps what had streamed, the next message goes
  through, the other worker and the other host keep serving, the worker is replaced;
- a native-UI tab moved to the other host mid-reply (its host killed): the partial answer
  is kept, the chat is not stuck, the next message is answered by the surviving host, the
  picture sent before is still shown (from the bucket).

Each host has a fake model of its own (a loopback server): the one a reply's request
reaches says which host runs it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.api.chatkit_client import Reply, decode_sse, reply_text, user_input
from tests.conftest import bearer, postgres_schema, redis_or_skip
from tests.e2e import hosts
from tests.e2e.hosts import Host, Kit
from tests.e2e.prod_site import free_port, wait_until
from tests.e2e.test_native_ui import PNG_1PX
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI
from tests.s3_server import Bucket, s3_client

pytestmark = pytest.mark.slow
API_KEY = "ak-" + secrets.token_urlsafe(32)
RUN = secrets.token_hex(4)  # user ids of this run (the rate limits' counts live in the shared Redis)
WORDS = 120
LONG = " ".join(f"w{i}" for i in range(WORDS))
SLOW = FakeBehavior(text=LONG, delay=0.1)  # ~12 s per answer: time to act mid-reply
CSV = b"name,score\nada,10\ngrace,12\n"
_PREVIEW_LOADED = (
    "() => { const i = document.querySelector('[data-testid=attachment-preview]');"
    " return !!i && i.complete && i.naturalWidth === 1; }"
)


@dataclass
class Cluster:
    kit: Kit
    database: str
    bucket: Bucket
    hosts: dict[str, Host]
    models: dict[str, FakeOpenAI] = field(repr=False)  # each host's own

    def other(self, host: Host) -> Host:
        return next(other for other in self.hosts.values() if other is not host)

    def model_calls(self, host: Host) -> int:
        return sum(1 for request in self.models[host.name].requests if request.path.endswith("/responses"))

    def answer_with(self, behavior: FakeBehavior, *among: Host) -> None:
        for host in among or tuple(self.hosts.values()):
            self.models[host.name].behavior = behavior

    def answers(self, thread_id: str) -> list[str]:
        """The thread's assistant messages' texts, as saved (oldest first)."""
        engine = create_engine(self.database)
        query = (
            "SELECT data FROM chatkit_item WHERE thread_id = :t AND type = 'assistant_message' ORDER BY created_at, seq"
        )
        try:
            with engine.connect() as connection:
                rows = connection.execute(text(query), {"t": thread_id}).fetchall()
        finally:
            engine.dispose()
        return ["".join(part["text"] for part in row[0]["content"]) for row in rows]  # JSON: a dict


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("multi-host")
    redis = redis_or_skip()
    kit = hosts.build_kit(root)
    bucket = Bucket(s3_endpoint, "chatkit-hosts-" + secrets.token_hex(4))
    s3_client(s3_endpoint).create_bucket(Bucket=bucket.name)
    secret = secrets.token_urlsafe(48)
    with postgres_schema() as database, ExitStack() as stack:
        members, models = {}, {}
        for name in ("a", "b"):
            models[name] = model = FakeOpenAI().start()
            stack.callback(model.stop)
            directory = kit.host(root / f"host-{name}")
            env = hosts.host_env(
                directory,
                kit,
                secret,
                database,
                redis,
                CHATKIT_WORKERS="2",
                CHATKIT_API_KEY=API_KEY,
                OPENAI_API_KEY="sk-test-" + "x" * 24,
                OPENAI_BASE_URL=model.base_url,
                **bucket.env(),
            )
            members[name] = host = Host(name, directory, free_port(), env)
            stack.callback(host.stack.close)
            host.start()
        backends = [host.url for host in members.values()]
        stack.enter_context(hosts.caddy(kit, backends, root))
        yield Cluster(kit, database, bucket, members, models)


@pytest.fixture
def whole(cluster: Cluster) -> Iterator[Cluster]:
    """The cluster with both hosts up (a test before may have killed one) and the models
    answering briefly unless a test says otherwise."""
    for host in cluster.hosts.values():
        if not host.alive():
            host.start()
    cluster.answer_with(FakeBehavior())
    yield cluster


def _session(client: httpx.Client, user: str) -> str:
    made = client.post("/api/chatkit/session", json={"userId": user}, headers=bearer(API_KEY))
    assert made.status_code == 201, made.text
    token: str = made.json()["token"]
    return token


def _path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _call(client: httpx.Client, token: str, type_: str, **params: Any) -> Any:
    response = client.post("/api/chatkit", json={"type": type_, "params": params}, headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json() if response.headers["content-type"].startswith("application/json") else response.text


def _upload(client: httpx.Client, token: str, name: str, mime: str, content: bytes) -> dict[str, Any]:
    created: dict[str, Any] = _call(client, token, "attachments.create", name=name, size=len(content), mime_type=mime)
    sent = client.post(
        _path(created["upload_descriptor"]["url"]), files={"file": (name, content)}, headers=bearer(token)
    )
    assert sent.status_code == 200, sent.text
    return created


def _uploads_on_disk(host: Host) -> list[Path]:
    uploads = host.directory / "data" / "uploads"
    return [path for path in uploads.rglob("*") if path.is_file()] if uploads.exists() else []


def test_a_file_uploaded_through_one_host_is_downloaded_previewed_and_sent_through_the_other(
    whole: Cluster,
) -> None:
    one, two = whole.hosts["a"], whole.hosts["b"]
    whole.answer_with(FakeBehavior(text="Read on the other host."), two)
    stored = set(whole.bucket.keys())
    with httpx.Client(base_url=one.url, timeout=30) as via_one, httpx.Client(base_url=two.url, timeout=30) as via_two:
        token = _session(via_one, f"files-{RUN}")
        table = _upload(via_one, token, "scores.csv", "text/csv", CSV)
        picture = _upload(via_one, token, "dot.png", "image/png", PNG_1PX)
        assert len(set(whole.bucket.keys()) - stored) == 2  # in the bucket, on neither host's disk
        assert _uploads_on_disk(one) == [] and _uploads_on_disk(two) == []

        download = via_two.get(f"/api/chatkit/attachments/{table['id']}", headers=bearer(token))
        assert download.status_code == 200 and download.content == CSV
        assert download.headers["content-disposition"].startswith("attachment;")
        preview = via_two.get(_path(picture["preview_url"]))  # no bearer: an <img> tag
        assert preview.status_code == 200 and preview.content == PNG_1PX
        assert preview.headers["content-type"] == "image/png"

        calls_one = whole.model_calls(one)
        body = _call(
            via_two, token, "threads.create", input=user_input("what is in these?", [table["id"], picture["id"]])
        )
        events = decode_sse(body)
        assert reply_text(events) == "Read on the other host."
        assert whole.model_calls(one) == calls_one  # the other host ran it...
        sent = json.dumps(whole.models[two.name].requests[-1].body)
        assert "grace,12" in sent  # ...with the file's content, read from the bucket
        assert "data:image/png;base64," in sent

        # The thread reads the same through the first host.
        thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
        items = _call(via_one, token, "items.list", thread_id=thread_id, order="asc")["data"]
        assert [item["type"] for item in items] == ["user_message", "assistant_message"]
        assert [a["id"] for a in items[0]["attachments"]] == [table["id"], picture["id"]]
        assert items[1]["content"][0]["text"] == "Read on the other host."


def test_a_worker_killed_mid_reply_leaves_the_streamed_text_and_the_rest_serve(whole: Cluster) -> None:
    one, two = whole.hosts["a"], whole.hosts["b"]
    whole.answer_with(SLOW, two)
    wait_until(lambda: len(two.workers()) == 2, timeout=60)
    workers, started = two.workers(), two.log().count("Started worker-")
    with httpx.Client(base_url=two.url, timeout=30) as via_two:
        token = _session(via_two, f"worker-{RUN}")
        request = {"type": "threads.create", "params": {"input": user_input("a long one")}}
        reply, victim = Reply(), 0
        with (
            pytest.raises(httpx.HTTPError),
            via_two.stream("POST", "/api/chatkit", json=request, headers=bearer(token)) as response,
        ):
            for line in response.iter_lines():
                if reply.read(line) is None:
                    continue
                if not victim and "w30" in reply.streamed:
                    client_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
                    victim = two.worker_serving(client_port)
                    os.kill(victim, signal.SIGKILL)
        thread_id, streamed = reply.thread_id, reply.streamed
        assert victim and "w119" not in streamed  # cut mid-reply

    # The thread keeps what had streamed (up to the last second's save); the other host
    # serves it at once and answers in it.
    whole.answer_with(FakeBehavior(text="Answered by the other host."), one)
    with httpx.Client(base_url=one.url, timeout=30) as via_one:
        items = _call(via_one, token, "items.list", thread_id=thread_id, order="asc")["data"]
        saved = items[-1]["content"][0]["text"]
        # (the last save may hold a word more than had reached the client when the kill landed)
        assert items[-1]["type"] == "assistant_message" and LONG.startswith(saved) and "w10" in saved
        body = _call(via_one, token, "threads.add_user_message", thread_id=thread_id, input=user_input("still?"))
        assert reply_text(decode_sse(body)) == "Answered by the other host."

    # Granian replaces the worker (connections that reach a replacement while it starts
    # may be reset: Granian's own start); then the host that lost it answers too.
    wait_until(lambda: two.log().count("Started worker-") == started + 1, timeout=60)
    wait_until(lambda: len(two.workers() - workers) == 1 and len(two.workers()) == 2, timeout=60)
    whole.answer_with(FakeBehavior(text="Still answering."), two)
    with httpx.Client(base_url=two.url, timeout=30) as via_two:
        body = _call(via_two, token, "threads.add_user_message", thread_id=thread_id, input=user_input("again?"))
        assert reply_text(decode_sse(body)) == "Still answering."
        assert two.alive() and victim not in two.workers()


def test_a_browser_tab_moves_to_the_other_host_mid_reply(whole: Cluster, browser: Any, tmp_path: Path) -> None:
    """The tab talks to a host through Caddy; that host dies while a reply streams. The
    tab reconnects through Caddy to the other host: the part that had streamed is there,
    the stop button goes, and the next message is answered by the host that is left."""
    from playwright.sync_api import expect

    whole.answer_with(SLOW)
    before = {name: whole.model_calls(host) for name, host in whole.hosts.items()}
    picture = tmp_path / "dot.png"
    picture.write_bytes(PNG_1PX)
    page = browser.new_page()
    try:
        page.goto(whole.kit.public_url)
        composer = page.get_by_test_id("composer-input")
        composer.wait_for(timeout=60_000)
        page.locator("#native-attachments input[type=file]").set_input_files([str(picture)])
        chips = page.get_by_test_id("pending-attachments").get_by_test_id("attachment-chip")
        expect(chips).to_have_count(1, timeout=20_000)  # the state in Redis: the upload's own cookie decides
        composer.fill("a long question")
        composer.press("Enter")
        answer = page.get_by_test_id("assistant-message").last
        expect(answer).to_contain_text("w3", timeout=30_000)
        expect(page.get_by_test_id("stop-button")).to_be_visible()
        expect(page).to_have_url(re.compile(r"/c/thr_"))
        thread_id = page.url.rsplit("/", 1)[1]

        # The host running the reply is the one whose model was asked.
        [serving] = [host for name, host in whole.hosts.items() if whole.model_calls(host) > before[name]]
        survivor = whole.other(serving)
        expect(answer).to_contain_text("w30", timeout=30_000)  # three seconds in: saved at least twice
        serving.kill()
        whole.answer_with(FakeBehavior(text="Answered by the host that is left."), survivor)

        # Not stuck: the stop button goes within seconds; the part that had streamed stays.
        expect(page.get_by_test_id("stop-button")).to_have_count(0, timeout=20_000)
        [saved] = whole.answers(thread_id)
        assert "w10" in saved and LONG.startswith(saved) and saved != LONG
        expect(answer).to_have_text(saved.strip())  # as saved: the move loaded it from the database

        # Retry and the next message work, answered by the host that is left.
        page.get_by_test_id("message-actions").last.get_by_role("button", name="Retry").click()
        expect(answer).to_have_text("Answered by the host that is left.", timeout=30_000)
        composer.fill("and after the move?")
        composer.press("Enter")
        expect(page.get_by_test_id("user-message")).to_have_text(["a long question", "and after the move?"])
        expect(page.get_by_test_id("assistant-message")).to_have_count(2, timeout=30_000)
        expect(answer).to_have_text("Answered by the host that is left.", timeout=30_000)
        expect(page.get_by_test_id("stop-button")).to_have_count(0, timeout=30_000)
        assert whole.model_calls(survivor) == before[survivor.name] + 2 and not serving.alive()

        # A reload (through the host that is left) shows the same thread, the picture's
        # preview served from the bucket.
        page.reload()
        expect(page.get_by_test_id("thread-entry")).to_have_count(1, timeout=60_000)
        expect(page.get_by_test_id("assistant-message")).to_have_text(["Answered by the host that is left."] * 2)
        page.wait_for_function(_PREVIEW_LOADED, timeout=30_000)
    finally:
        page.close()
