"""Files to the model, over HTTP against the loopback fake of OpenAI (both APIs): an image
and a PDF reach the model as exactly the uploaded bytes (base64, inline), a text file as
text; what the model server cannot take or what is over the caps is described by name,
and the user is told when a file of their message was not sent."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from chatkit.store import NotFoundError
from chatkit.types import ImageAttachment, InferenceOptions, UserMessageItem, UserMessageTextContent
from pydantic import ValidationError

from chatkit_app.api.app import create_api
from chatkit_app.core.context import RequestContext
from chatkit_app.services import Services, build_services
from tests.api.chatkit_client import ChatKitClient, done_items, reply_text, user_input
from tests.api.test_attachments import create, upload
from tests.conftest import LIMITS_OFF, bearer, make_settings
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI, running_fake

ANSWER = "I looked at your files."
MB = 1024 * 1024
Site = Callable[..., Awaitable[tuple[ChatKitClient, Services]]]


def png() -> bytes:
    """A PNG header and random bytes: equal only to itself."""
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(600)


def pdf() -> bytes:
    return b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n" + base64.b64encode(os.urandom(600)) + b"\n%%EOF\n"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake(FakeBehavior(text=ANSWER))


@pytest.fixture
async def site(fake: FakeOpenAI, tmp_path: Path) -> AsyncIterator[Site]:
    """Starts the app on the fake model with settings of the test's choosing, signed in as
    a user (`user=`, default alice); returns the ChatKit client and the app's services."""
    async with AsyncExitStack() as stack:
        built: dict[str, tuple[Services, httpx.AsyncClient]] = {}

        async def start(
            user: str = "alice", api: str = "responses", **overrides: Any
        ) -> tuple[ChatKitClient, Services]:
            key = json.dumps([api, overrides], sort_keys=True)
            if key not in built:
                settings = make_settings(
                    tmp_path / str(len(built)),
                    openai_api_key="sk-test-" + "x" * 20,
                    openai_base_url=fake.base_url,
                    chatkit_openai_api=api,
                    chatkit_upstream_timeout_seconds=10,
                    **LIMITS_OFF,
                    **overrides,
                )
                services = build_services(settings, production=False)
                stack.callback(services.close)
                transport = httpx.ASGITransport(app=create_api(lambda: services))
                http = await stack.enter_async_context(httpx.AsyncClient(transport=transport, base_url="http://t"))
                built[key] = (services, http)
            services, http = built[key]
            return await ChatKitClient.for_user(http, user), services

        yield start


async def attach(user: ChatKitClient, name: str, mime: str, content: bytes) -> str:
    attachment = await create(user, name, mime, len(content))
    response = await upload(user, attachment, content)
    assert response.status_code == 200, response.text
    attachment_id: str = attachment["id"]
    return attachment_id


def user_parts(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The content parts of the user messages the model was sent, in the Responses form
    (a Chat Completions body is mapped back: text, image_url, file)."""
    parts: list[dict[str, Any]] = []
    if "input" in body:  # Responses
        for item in body["input"]:
            if item.get("role") == "user" and isinstance(item.get("content"), list):
                parts.extend(item["content"])
        return parts
    for message in body["messages"]:  # Chat Completions
        if message["role"] != "user" or not isinstance(message["content"], list):
            continue
        for part in message["content"]:
            if part["type"] == "text":
                parts.append({"type": "input_text", "text": part["text"]})
            elif part["type"] == "image_url":
                parts.append({"type": "input_image", **{"image_url": part["image_url"]["url"]}})
                parts[-1]["detail"] = part["image_url"]["detail"]
            elif part["type"] == "file":
                parts.append({"type": "input_file", **part["file"]})
            else:
                raise AssertionError(f"unexpected part {part['type']}")
    return parts


def data_url(url: str) -> tuple[str, bytes]:
    """The media type and the bytes of a `data:<type>;base64,<data>` URL."""
    head, _, data = url.partition(",")
    assert head.startswith("data:") and head.endswith(";base64"), head[:60]
    return head[len("data:") : -len(";base64")], base64.b64decode(data, validate=True)


def texts(body: dict[str, Any]) -> list[str]:
    return [part["text"] for part in user_parts(body) if part["type"] == "input_text"]


def notices(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "notice"]


async def send(user: ChatKitClient, text: str, attachments: list[str], thread_id: str | None = None) -> list[Any]:
    if thread_id is None:
        return await user.stream("threads.create", input=user_input(text, attachments))
    return await user.stream("threads.add_user_message", thread_id=thread_id, input=user_input(text, attachments))


def thread_of(events: list[dict[str, Any]]) -> str:
    thread_id: str = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    return thread_id


@pytest.mark.parametrize("api", ["responses", "chat_completions"])
async def test_an_image_and_a_pdf_reach_the_model_as_their_bytes(site: Site, fake: FakeOpenAI, api: str) -> None:
    alice, _ = await site(api=api)
    image, document = png(), pdf()
    image_id = await attach(alice, "photo.png", "image/png", image)
    pdf_id = await attach(alice, "report.pdf", "application/pdf", document)

    events = await send(alice, "What do these show?", [image_id, pdf_id])

    assert reply_text(events) == ANSWER and not notices(events)
    [request] = fake.requests
    parts = user_parts(request.body)
    assert [p["type"] for p in parts] == ["input_text", "input_image", "input_file"]
    assert parts[0]["text"] == "What do these show?"
    assert parts[1]["detail"] == "auto"
    assert data_url(parts[1]["image_url"]) == ("image/png", image)
    assert parts[2]["filename"] == "report.pdf"
    assert data_url(parts[2]["file_data"]) == ("application/pdf", document)
    # inline bytes only: no address of ours (preview or download) is handed to the model
    assert "/api/chatkit/attachments" not in json.dumps(request.body)


@pytest.mark.parametrize("api", ["responses", "chat_completions"])
async def test_a_text_file_reaches_the_model_as_text(site: Site, fake: FakeOpenAI, api: str) -> None:
    alice, _ = await site(api=api)
    content = "name,score\nada,10\ngrace,12\n"
    csv_id = await attach(alice, "scores.csv", "text/csv", content.encode())

    await send(alice, "Who scored more?", [csv_id])

    parts = user_parts(fake.requests[-1].body)
    assert [p["type"] for p in parts] == ["input_text", "input_text"]
    assert "scores.csv (text/csv)" in parts[1]["text"] and content in parts[1]["text"]


async def test_earlier_files_go_to_the_model_again(site: Site, fake: FakeOpenAI) -> None:
    alice, _ = await site()
    image = png()
    thread_id = thread_of(await send(alice, "Look at this", [await attach(alice, "a.png", "image/png", image)]))

    await send(alice, "And what colour is it?", [], thread_id)

    parts = user_parts(fake.requests[-1].body)
    assert [p["type"] for p in parts] == ["input_text", "input_image", "input_text"]
    assert data_url(parts[1]["image_url"]) == ("image/png", image)


@pytest.mark.parametrize("api", ["responses", "chat_completions"])
async def test_model_inputs_text_describes_images_and_pdfs(site: Site, fake: FakeOpenAI, api: str) -> None:
    alice, _ = await site(api=api, chatkit_model_inputs="text")
    image, document = png(), pdf()
    ids = [
        await attach(alice, "photo.png", "image/png", image),
        await attach(alice, "report.pdf", "application/pdf", document),
        await attach(alice, "notes.md", "text/markdown", b"# Notes\n\nbuy milk"),
    ]

    events = await send(alice, "Summarise", ids)

    assert reply_text(events) == ANSWER and not notices(events)  # a setting, not the user's doing
    body = fake.requests[-1].body
    assert [p["type"] for p in user_parts(body)] == ["input_text"] * 4
    said = texts(body)
    assert said[1] == (
        "[The user attached a file: photo.png (image/png). "
        "This assistant cannot view images, so you were given its name only]"
    )
    assert said[2].startswith("[The user attached a file: report.pdf (application/pdf). This assistant cannot read PDF")
    assert "buy milk" in said[3]
    dumped = json.dumps(body)
    assert base64.b64encode(image).decode() not in dumped and base64.b64encode(document).decode() not in dumped


async def test_a_file_over_the_per_file_cap_is_named_and_the_user_told(site: Site, fake: FakeOpenAI) -> None:
    alice, _ = await site(chatkit_model_max_file_mb=500 / MB)
    small, large = b"\x89PNG\r\n\x1a\n" + os.urandom(300), png()  # 308 and 616 bytes
    ids = [
        await attach(alice, "small.png", "image/png", small),
        await attach(alice, "big_photo.png", "image/png", large),
    ]

    events = await send(alice, "Compare them", ids)

    [notice] = notices(events)
    assert notice["level"] == "warning"
    assert notice["message"] == (
        "**big\\_photo.png** is 0.602 KB, more than the 0.488 KB the assistant can read per file; "
        "it saw only the file's name."
    )
    kinds = [e["type"] for e in events]
    assert kinds.index("notice") < kinds.index("thread.item.added")  # before the answer starts
    assert reply_text(events) == ANSWER
    parts = user_parts(fake.requests[-1].body)
    assert data_url(parts[1]["image_url"]) == ("image/png", small)
    assert parts[2]["text"].startswith("[The user attached a file: big_photo.png (image/png). It is too large")
    assert base64.b64encode(large).decode() not in json.dumps(fake.requests[-1].body)
    # what is stored is intact: the message keeps both files, the big one downloads whole
    [message] = done_items(events, "user_message")
    assert [a["id"] for a in message["attachments"]] == ids
    download = await alice.http.get(f"/api/chatkit/attachments/{ids[1]}", headers=bearer(alice.token))
    assert download.content == large


async def test_the_turn_cap_keeps_the_newest_files(site: Site, fake: FakeOpenAI) -> None:
    """Two images fit one model call, three do not: the new message's files come first."""
    alice, _ = await site(chatkit_model_max_turn_mb=1300 / MB)
    first, second, third = png(), png(), png()  # 616 bytes each
    thread_id = thread_of(await send(alice, "one", [await attach(alice, "1.png", "image/png", first)]))
    events = await send(alice, "two", [await attach(alice, "2.png", "image/png", second)], thread_id)
    assert not notices(events)
    parts = user_parts(fake.requests[-1].body)
    assert [data_url(p["image_url"])[1] for p in parts if p["type"] == "input_image"] == [first, second]

    events = await send(alice, "three", [await attach(alice, "3.png", "image/png", third)], thread_id)

    assert not notices(events)  # the new file went; an old one was left out
    body = fake.requests[-1].body
    assert [data_url(p["image_url"])[1] for p in user_parts(body) if p["type"] == "input_image"] == [second, third]
    assert "[The user attached a file: 1.png (image/png). It was not passed on again" in texts(body)[1]

    both = [await attach(alice, f"{n}.png", "image/png", png()) for n in (4, 5, 6)]
    events = await send(alice, "three at once", both, thread_id)
    [notice] = notices(events)
    assert notice["message"] == (
        "**6.png** did not fit: this message's files come to more than the 1.27 KB the assistant can read at once; "
        "it saw only the file's name."
    )


async def test_another_users_attachment_is_never_read(site: Site, fake: FakeOpenAI) -> None:
    alice, services = await site()
    mallory, _ = await site(user="mallory")
    secret = png()
    secret_id = await attach(mallory, "secret.png", "image/png", secret)
    mallory_context = RequestContext("mallory", "", "assistant")
    alice_context = RequestContext("alice", "", "assistant")
    # the reader itself: the owner gets the bytes, anyone else NotFoundError
    assert await services.attachments.read_bytes(secret_id, mallory_context, limit=MB) == secret
    with pytest.raises(NotFoundError):
        await services.attachments.read_bytes(secret_id, alice_context, limit=MB)
    # a history that names it (written into alice's thread behind the API's back)
    thread_id = thread_of(await send(alice, "hi", []))
    stolen = await services.store.load_attachment(secret_id, mallory_context)
    assert isinstance(stolen, ImageAttachment)
    forged = UserMessageItem(
        id="msg_forged",
        thread_id=thread_id,
        created_at=datetime.now(),
        content=[UserMessageTextContent(text="look")],
        attachments=[stolen],
        inference_options=InferenceOptions(),
    )
    await services.store.add_thread_item(thread_id, forged, alice_context)

    events = await send(alice, "what was in it?", [], thread_id)

    assert reply_text(events) == ANSWER
    body = fake.requests[-1].body
    assert base64.b64encode(secret).decode() not in json.dumps(body)
    assert "[The user attached a file: secret.png (image/png). The file is no longer available]" in texts(body)


def test_model_inputs_setting_is_checked(tmp_path: Path) -> None:
    assert make_settings(tmp_path).model_inputs == {"text", "image", "file"}
    assert make_settings(tmp_path, chatkit_model_inputs="Text, image").model_inputs == {"text", "image"}
    assert make_settings(tmp_path, chatkit_model_inputs="none").model_inputs == frozenset()
    for bad in ("text,video", "", "none,text"):
        with pytest.raises(ValidationError, match="chatkit_model_inputs"):
            make_settings(tmp_path, chatkit_model_inputs=bad)


async def test_files_in_flight_are_capped_for_the_whole_process(site: Site, fake: FakeOpenAI) -> None:
    """Room for one image at a time: while one answer holds its image, another user's image
    is named instead (and that user told); once the first answer ends, images go again."""
    cap = {"chatkit_model_files_in_flight_mb": 1000 / MB}  # one 616-byte image fits, two do not
    alice, services = await site("alice", **cap)
    bob, _ = await site("bob", **cap)
    budget = services.registry.file_bytes
    held, free = png(), png()

    fake.behavior = FakeBehavior(text=ANSWER, hang_after=1)  # alice's answer stays open
    holding = asyncio.create_task(send(alice, "Hold this", [await attach(alice, "held.png", "image/png", held)]))
    await wait_until(lambda: len(fake.requests) == 1)
    assert budget.used == len(held)
    fake.behavior = FakeBehavior(text=ANSWER)

    events = await send(bob, "Look", [await attach(bob, "busy.png", "image/png", png())])
    [notice] = notices(events)
    assert notice["message"] == (
        "**busy.png** was not passed on: the server is busy passing other files to the assistant right now. "
        "Send it again in a minute."
    )
    assert texts(fake.requests[-1].body)[-1].startswith("[The user attached a file: busy.png (image/png). The server")
    assert budget.used == len(held), "bob's answer held nothing"

    holding.cancel()  # alice leaves: her answer ends, and its bytes are given back
    await asyncio.gather(holding, return_exceptions=True)
    await wait_until(lambda: budget.used == 0)
    events = await send(bob, "Again", [await attach(bob, "free.png", "image/png", free)])
    assert not notices(events)
    assert data_url(user_parts(fake.requests[-1].body)[-1]["image_url"]) == ("image/png", free)
    assert budget.used == 0


async def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)
