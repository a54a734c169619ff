"""Every private name of a dependency that `chatkit_app.fast_paths.internals` relies on still
exists at the pinned versions and behaves as its docstring there says: one test per name,
so that an upgrade fails here, by name, before anything subtler breaks. (`CHATKIT_FAST_PATHS=off`
runs the app without the fast paths while one is being fixed.)"""

from __future__ import annotations

import asyncio
import inspect
import socket
from collections.abc import Iterator
from typing import Any

import aiohttp
import httpx2
import openai
import pytest
from aiohttp.base_protocol import BaseProtocol
from chatkit.server import ChatKitServer, agents_sdk_user_agent_override
from chatkit.types import ThreadListParams, ThreadsListReq
from openai.types.responses import ResponseStreamEvent
from openai.types.shared import Reasoning
from reflex.app import EventNamespace

from chatkit_app.fast_paths import internals, plain_internals
from tests.fakes.openai_server import FakeBehavior, FakeOpenAI, running_fake


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    yield from running_fake(FakeBehavior(text="one two three"))


def _parameters(function: Any) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name != "self"]


# --- openai ------------------------------------------------------------------------------


def test_server_sent_event() -> None:
    assert {"event", "data", "id", "retry"} <= set(_parameters(internals.ServerSentEvent.__init__))
    sse = internals.ServerSentEvent(event="e", data='{"a": 1}')
    assert (sse.event, sse.data, sse.json()) == ("e", '{"a": 1}', {"a": 1})


def test_sse_decoder_and_its_state_fields() -> None:
    decoder = internals.SSEDecoderFields()
    assert decoder.decode("event: e") is None and decoder.decode("data: x") is None
    first = decoder.decode("")
    assert first is not None and (first.event, first.data) == ("e", "x")
    decoder.set_event("delta")
    decoder.add_data("a")
    decoder.add_data("b")
    second = decoder.decode("")
    assert second is not None and (second.event, second.data) == ("delta", "a\nb")
    decoder.add_data("left over")
    decoder.reset()
    assert decoder.decode("") is None
    assert inspect.isasyncgenfunction(internals.SSEDecoder.aiter_bytes)


def test_platform_is_known_from_the_start() -> None:
    assert str(internals.PLATFORM)
    assert openai.AsyncOpenAI(api_key="k")._platform is None  # the SDK looks it up per client
    hooked = internals.ClientHooks(api_key="k")
    assert hooked.platform_headers()["X-Stainless-OS"] == str(internals.PLATFORM)
    assert "if self._platform is None" in inspect.getsource(openai.AsyncOpenAI.request)


def test_make_request_options() -> None:
    assert {"extra_headers", "extra_query", "extra_body", "timeout", "security"} <= set(
        _parameters(internals.make_request_options)
    )
    options = internals.make_request_options(
        extra_headers={"X-A": "1"}, extra_body={"b": 2}, timeout=openai.not_given, security={"bearer_auth": True}
    )
    assert options == {"headers": {"X-A": "1"}, "extra_json": {"b": 2}, "security": {"bearer_auth": True}}


def test_model_dump_leaves_unset_fields_out() -> None:
    assert {"exclude_unset", "mode", "exclude"} <= set(_parameters(internals.model_dump))
    assert internals.model_dump(Reasoning(effort="low"), exclude_unset=True, mode="json") == {"effort": "low"}


def test_is_given() -> None:
    assert not internals.is_given(openai.not_given) and not internals.is_given(openai.omit)
    assert internals.is_given(None) and internals.is_given(0)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_aiohttp_transport_and_its_response_stream(fake: FakeOpenAI) -> None:
    assert {"verify", "cert", "trust_env", "http1", "http2", "limits", "proxy"} <= set(
        _parameters(internals.AiohttpTransport.__init__)
    )
    transport = internals.AiohttpTransport()
    try:
        session = transport.get_client()
        assert isinstance(session, aiohttp.ClientSession) and isinstance(session.trace_configs, list)
        request = httpx2.Request("POST", f"{fake.base_url}/responses", json={"model": "m", "input": "hi"})
        response = await transport.handle_async_request(request)
        assert isinstance(response.stream, internals.AiohttpResponseStream)
        aiohttp_response = internals.aiohttp_response_of(response.stream)
        assert isinstance(aiohttp_response, aiohttp.ClientResponse) and aiohttp_response.status == 200
        assert b"one" in b"".join([chunk async for chunk in response.stream])
        await response.stream.aclose()
        refused = httpx2.Request("GET", f"http://127.0.0.1:{_closed_port()}/")
        with pytest.raises(httpx2.ConnectTimeout) as failure:  # as the pacing transport expects
            await transport.handle_async_request(refused)
        assert isinstance(failure.value.__cause__, aiohttp.ClientConnectorError)
    finally:
        await transport.aclose()


def test_map_aiohttp_exceptions() -> None:
    with pytest.raises(httpx2.ReadError), internals.map_aiohttp_exceptions():
        raise aiohttp.ClientPayloadError("cut")


def test_aiohttp_client_hooks_make_every_transport() -> None:
    made: list[dict[str, Any]] = []

    class Recording(internals.AioHttpClientHooks):
        def make_transport(self, **options: Any) -> httpx2.AsyncBaseTransport:
            made.append(options)
            return super().make_transport(**options)

    assert {"verify", "cert", "trust_env", "http1", "http2", "limits", "transport"} <= set(
        _parameters(httpx2.AsyncClient._init_transport)
    )
    assert {"proxy", "verify", "cert", "trust_env", "http1", "http2", "limits"} <= set(
        _parameters(httpx2.AsyncClient._init_proxy_transport)
    )
    client = Recording(proxy="http://127.0.0.1:9")
    assert len(made) == 2 and "proxy" not in made[0] and str(made[1]["proxy"].url) == "http://127.0.0.1:9"
    assert all(isinstance(t, internals.AiohttpTransport) for t in [client._transport, *client._mounts.values()])
    assert isinstance(client, openai.DefaultAioHttpClient)


async def test_client_hooks_see_every_request_decoder_and_event(fake: FakeOpenAI) -> None:
    assert _parameters(openai.AsyncOpenAI._make_sse_decoder) == []
    assert _parameters(openai.AsyncOpenAI._process_response_data) == ["data", "cast_to", "response"]
    assert _parameters(openai.AsyncOpenAI._prepare_request) == ["request"]
    seen: list[Any] = []

    class Recording(internals.ClientHooks):
        def sse_decoder(self) -> internals.SSEDecoder:
            seen.append("decoder")
            return super().sse_decoder()

        def parse_data(self, data: object, cast_to: Any, response: httpx2.Response) -> Any:
            seen.append(cast_to)
            return super().parse_data(data, cast_to, response)

        def prepare_request(self, request: httpx2.Request) -> None:
            seen.append(request.url.path)

    async with Recording(api_key="k", base_url=fake.base_url, max_retries=0) as client:
        stream = await client.responses.create(model="m", input="hi", stream=True)
        events = [event async for event in stream]
    assert seen[:2] == ["/v1/responses", "decoder"]
    assert seen[2:] == [ResponseStreamEvent] * len(events) and len(events) > 3


async def test_retry_filtering_client() -> None:
    assert _parameters(openai.AsyncOpenAI._should_retry) == ["response"]
    request = httpx2.Request("POST", "http://x/v1/chatkit/sessions")
    busy, failed = httpx2.Response(429, request=request), httpx2.Response(500, request=request)

    class No429(plain_internals.RetryFilteringClient):
        never_retried = frozenset({429})

    async with openai.AsyncOpenAI(api_key="k") as sdk, No429(api_key="k") as ours:
        assert sdk._should_retry(busy) and sdk._should_retry(failed)
        assert not ours._should_retry(busy) and ours._should_retry(failed)


# --- aiohttp -----------------------------------------------------------------------------


async def test_take_buffered_reads_what_arrived_before_a_failure() -> None:
    loop = asyncio.get_running_loop()
    content = aiohttp.StreamReader(BaseProtocol(loop), 2**16, loop=loop)
    assert internals.take_buffered(content) == b""
    content.feed_data(b"data: a\n\n")
    content.feed_data(b"data: b\n\n")
    content.set_exception(aiohttp.ClientPayloadError("cut"))
    with pytest.raises(aiohttp.ClientPayloadError):  # what the public reads do
        await content.readany()
    assert internals.take_buffered(content) == b"data: a\n\ndata: b\n\n"
    assert internals.take_buffered(content) == b""


# --- openai-agents -----------------------------------------------------------------------


def test_agents_responses_headers() -> None:
    from agents.models import openai_responses

    assert internals.agents_responses_headers() == {}
    with agents_sdk_user_agent_override():
        assert internals.agents_responses_headers()["User-Agent"].startswith("Agents/Python")
    assert "_HEADERS_OVERRIDE.get()" in inspect.getsource(openai_responses)  # read by the Agents SDK's call


def _agents_with_handoffs(specialist_name: str = "shipping") -> Any:
    from agents import Agent, function_tool, handoff

    @function_tool
    def lookup(order: str) -> str:
        """Finds an order."""
        return order

    billing = Agent(name="billing", instructions="Bills.", tools=[lookup])
    shipping = Agent(name=specialist_name, instructions="Ships.", handoffs=[billing])
    return Agent(name="triage", instructions="Routes.", tools=[lookup], handoffs=[handoff(billing), shipping])


def test_agent_graph() -> None:
    triage = _agents_with_handoffs()
    assert [agent.name for agent in internals.agent_graph(triage)] == ["triage", "billing", "shipping"]


@pytest.fixture
def sdk_identity_map() -> Iterator[Any]:
    """The SDK's own function (a server built earlier in the run may have replaced it);
    the module is left as it was found."""
    from agents import _run_state_agent_identity as identity

    found = identity._build_agent_identity_map
    yield getattr(found, "__wrapped__", found)
    identity._build_agent_identity_map = found


def test_agent_identity_map_replaced(sdk_identity_map: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from agents import _run_state_agent_identity as identity

    from chatkit_app.fast_paths.agent_identity import name_agents_directly

    unique, repeated = _agents_with_handoffs(), _agents_with_handoffs(specialist_name="billing")
    expected = {id(graph): sdk_identity_map(graph) for graph in (unique, repeated)}
    assert list(expected[id(repeated)]) == ["triage", "billing", "billing#2"]
    name_agents_directly()
    name_agents_directly()  # once is enough; twice still wraps the SDK's own function
    assert identity._build_agent_identity_map.__wrapped__ is sdk_identity_map
    signed: list[str] = []
    signature = identity._agent_identity_signature
    monkeypatch.setattr(
        identity, "_agent_identity_signature", lambda agent: signed.append(agent.name) or signature(agent)
    )
    for graph in (unique, repeated):  # called through the module's global, with the SDK's result
        keys = identity._build_agent_identity_keys_by_id(graph)
        assert keys == {id(agent): key for key, agent in expected[id(graph)].items()}
        # Nothing to sort without a repeated name: no agent signed; else the SDK's own way.
        assert bool(signed) is (graph is repeated)


# --- openai-chatkit ----------------------------------------------------------------------


class _Server(ChatKitServer[Any]):
    def respond(self, thread: Any, input_user_message: Any, context: Any) -> Any:
        raise NotImplementedError


def _server() -> ChatKitServer[Any]:
    return _Server.__new__(_Server)  # serializing needs no state


def test_chatkit_serialize_is_replaced_per_instance() -> None:
    assert _parameters(ChatKitServer._serialize) == ["obj"]
    for method in (ChatKitServer._process_streaming, ChatKitServer._process_non_streaming):
        assert "self._serialize(" in inspect.getsource(method)
    request = ThreadsListReq(params=ThreadListParams(limit=3))
    server, other = _server(), _server()
    internals.write_frames_with(server, lambda obj: b"ours" if obj is request else None)
    assert server._serialize(request) == b"ours"
    params = request.params
    assert server._serialize(params) == other._serialize(params) == ChatKitServer._serialize(other, params)
    assert "_serialize" not in vars(other)


def test_chatkit_process_steps() -> None:
    assert _parameters(ChatKitServer._process_streaming) == ["request", "context"]
    assert _parameters(ChatKitServer._process_non_streaming) == ["request", "context"]
    assert inspect.isasyncgenfunction(ChatKitServer._process_streaming)
    assert inspect.iscoroutinefunction(ChatKitServer._process_non_streaming)
    source = inspect.getsource(ChatKitServer.process)
    assert "self._process_streaming(" in source and "self._process_non_streaming(" in source


# --- reflex ------------------------------------------------------------------------------


async def test_reflex_token_manager() -> None:
    namespace = EventNamespace("/_event", app=None)  # type: ignore[arg-type]
    check = plain_internals.connected_token_check(namespace)
    assert check is not None, "Reflex renamed EventNamespace._token_manager.is_token_connected"
    assert await check("made-up") is False
    await namespace._token_manager.link_token_to_sid("tab-token", "sid-1")
    assert await check("tab-token") is True
    assert plain_internals.connected_token_check(object()) is None
