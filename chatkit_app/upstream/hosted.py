"""OpenAI hosted ChatKit sessions (Agent Builder `wf_...` workflows) over the official SDK.

One call (create or cancel) ends within `timeout` seconds, the SDK's one retry included.
Failures become our error tree. Nothing from OpenAI's error bodies is echoed or logged: an
authentication error can quote part of the key. The key itself only lives in the SDK client.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import email.utils
import logging
import math
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai
from openai.types.beta.chatkit.chat_session_chatkit_configuration_param import FileUpload
from pydantic import SecretStr

from chatkit_app.errors import ChatKitAppError, RateLimited, UpstreamFailed, UpstreamTimeout
from chatkit_app.fast_paths.plain_internals import RetryFilteringClient

logger = logging.getLogger("chatkit_app.upstream")

DEFAULT_RETRY_AFTER = 30
MAX_RETRY_AFTER = 3600
MAX_FILE_SIZE_MB = 512  # OpenAI's ceiling for `file_upload.max_file_size` (megabytes)
MIB = 1024 * 1024  # ChatKit's `composer.attachments.maxSize` is in bytes


@dataclass(frozen=True, slots=True)
class UpstreamSession:
    id: str
    client_secret: str = field(repr=False)
    expires_at: int | None


class _SessionsClient(RetryFilteringClient):
    """Retries only what a retry can fix within the deadline: a 429 goes straight back to
    our caller with its Retry-After instead of holding the request open while waiting."""

    never_retried = frozenset({429})


class HostedSessions:
    """Creates and cancels hosted sessions. SDK clients (connection pools) are made on first
    use, one per event loop, since a pool cannot be shared across loops."""

    def __init__(self, api_key: SecretStr, *, base_url: str | None, timeout: float, max_retries: int = 1) -> None:
        self._api_key = api_key
        self._base_url = base_url
        self._timeout = timeout
        self._max_retries = max_retries
        self._clients: dict[asyncio.AbstractEventLoop, openai.AsyncOpenAI] = {}
        self._closing: set[concurrent.futures.Future[None]] = set()

    async def create(
        self, *, user: str, workflow_id: str, expires_in: int, file_upload: FileUpload | None = None
    ) -> UpstreamSession:
        extra: dict[str, Any] = {"chatkit_configuration": {"file_upload": file_upload}} if file_upload else {}
        async with self._guard("create"):
            answer = await self._client().beta.chatkit.sessions.create(
                user=user,
                workflow={"id": workflow_id},
                expires_after={"anchor": "created_at", "seconds": expires_in},
                **extra,
            )
        try:
            return _parse(answer)
        except UpstreamFailed:
            session_id = getattr(answer, "id", None)
            if isinstance(session_id, str) and session_id:  # unusable to us: do not leave it live
                with contextlib.suppress(ChatKitAppError):
                    await self.cancel(session_id)
            raise

    async def cancel(self, session_id: str) -> None:
        async with self._guard("cancel"):
            await self._client().beta.chatkit.sessions.cancel(session_id)

    def _client(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            for stale in [known for known in self._clients if known.is_closed()]:
                del self._clients[stale]  # its sockets went with its loop
            client = self._clients[loop] = _SessionsClient(
                api_key=self._api_key.get_secret_value(),
                base_url=self._base_url,
                timeout=self._timeout,
                max_retries=self._max_retries,
            )
        return client

    @contextlib.asynccontextmanager
    async def _guard(self, action: str) -> AsyncIterator[None]:
        """The deadline and the error mapping; `from None` keeps OpenAI's text out of tracebacks."""
        try:
            async with asyncio.timeout(self._timeout):
                yield
        except (TimeoutError, openai.APITimeoutError):
            logger.warning("hosted session %s: no answer from OpenAI within %.1f s", action, self._timeout)
            raise UpstreamTimeout(f"OpenAI did not answer within {self._timeout:g} seconds.") from None
        except openai.APIStatusError as exc:
            status = exc.status_code
            logger.warning("hosted session %s: OpenAI answered HTTP %d (request id %s)", action, status, exc.request_id)
            if status == 429:
                raise RateLimited(
                    "OpenAI is rate limiting hosted sessions; try again later.", retry_after=retry_after(exc.response)
                ) from None
            if status in (401, 403):
                raise UpstreamFailed(
                    "OpenAI refused the server's OpenAI API key (OPENAI_API_KEY); the operator must fix it."
                ) from None
            raise UpstreamFailed(f"OpenAI failed to {action} the hosted session (HTTP {status}).") from None
        except openai.APIConnectionError:
            logger.warning("hosted session %s: could not reach OpenAI", action)
            raise UpstreamFailed("Could not reach OpenAI to set up the hosted session.") from None
        except (openai.OpenAIError, ValueError) as exc:  # unparseable answer (JSON or schema)
            logger.warning("hosted session %s: unusable answer from OpenAI (%s)", action, type(exc).__name__)
            raise UpstreamFailed("OpenAI sent an answer that could not be read.") from None

    async def aclose(self) -> None:
        clients, self._clients = self._clients, {}
        for loop, client in clients.items():
            if not loop.is_closed():
                await _close_on(loop, client)

    def close(self) -> None:
        """Synchronous best effort (Services.close is sync): a client whose loop is running
        is closed on that loop, one whose loop is idle is closed by running it."""
        clients, self._clients = self._clients, {}
        for loop, client in clients.items():
            if loop.is_closed():
                continue
            if loop.is_running():
                future = asyncio.run_coroutine_threadsafe(client.close(), loop)
                self._closing.add(future)
                future.add_done_callback(self._closing.discard)
            else:
                try:
                    loop.run_until_complete(client.close())
                except RuntimeError:  # called from inside another running loop
                    logger.debug("left an OpenAI client to the garbage collector")


async def _close_on(loop: asyncio.AbstractEventLoop, client: openai.AsyncOpenAI) -> None:
    if loop is asyncio.get_running_loop():
        await client.close()
    elif loop.is_running():
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(client.close(), loop))


def _parse(answer: object) -> UpstreamSession:
    session_id = getattr(answer, "id", None)
    secret = getattr(answer, "client_secret", None)
    expires_at = getattr(answer, "expires_at", None)
    if not (isinstance(session_id, str) and session_id and isinstance(secret, str) and secret):
        logger.warning("hosted session create: OpenAI's answer has no session id or client_secret")
        raise UpstreamFailed("OpenAI's answer did not contain a usable hosted session.")
    return UpstreamSession(session_id, secret, expires_at if isinstance(expires_at, int) else None)


def retry_after(response: httpx2.Response) -> int:
    """Seconds to wait, from `retry-after-ms` / `retry-after` (seconds or HTTP date)."""
    headers = response.headers
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / divisor
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is None:
                continue
            seconds = email.utils.mktime_tz(parsed) - time.time()
        if math.isfinite(seconds):
            return min(MAX_RETRY_AFTER, max(1, math.ceil(seconds)))
    return DEFAULT_RETRY_AFTER


def file_upload_options(ui: Mapping[str, Any]) -> FileUpload | None:
    """OpenAI's `file_upload` from the workflow's public `ui.composer.attachments`
    (ChatKit's maxSize is bytes, possibly per MIME type: the largest limit applies)."""
    composer = ui.get("composer")
    attachments = composer.get("attachments") if isinstance(composer, Mapping) else None
    if not isinstance(attachments, Mapping):
        return None
    upload: FileUpload = {"enabled": attachments.get("enabled") is True}
    size = attachments.get("maxSize")
    if isinstance(size, Mapping):
        size = max((value for value in size.values() if _positive(value)), default=None)
    if isinstance(size, int | float) and _positive(size):
        upload["max_file_size"] = min(MAX_FILE_SIZE_MB, max(1, math.ceil(size / MIB)))
    count = attachments.get("maxCount")
    if isinstance(count, int) and _positive(count):
        upload["max_files"] = count
    return upload


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0
