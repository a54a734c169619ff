"""ChatKit's entity callbacks answered in Python: `chatkit_widget(entity_preview=…,
tag_search=…)`.

ChatKit asks for them in the browser and awaits the answer (`onRequestPreview` wants a
widget, `onTagSearch` a list of entities), so a Reflex event, which returns nothing to the
page, cannot answer them. The bridge posts them instead to `POST /api/chatkit/entities`
with the session's token; the route calls the function registered here with the entity
(or query) and the caller's `RequestContext` (user, session, workflow), so a handler only
ever sees, and answers for, the signed-in user. Functions are registered when the page
is built, under their module and name (the same key in every process).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field

from chatkit_app.core.context import RequestContext

MAX_RESULTS = 50


class EntityRef(BaseModel):
    """An entity as ChatKit hands it to a callback (`Entity` in chatkit-js)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1, max_length=200)
    title: str = Field(max_length=500)
    icon: str | None = Field(default=None, max_length=200)
    interactive: bool | None = None
    group: str | None = Field(default=None, max_length=200)
    data: dict[str, str] | None = None


PreviewHandler = Callable[[EntityRef, RequestContext], Any]  # -> widget (model or dict) | None, maybe awaitable
SearchHandler = Callable[[str, RequestContext], Any]  # -> list of entities (EntityRef or dict), maybe awaitable


@dataclass(frozen=True)
class EntityHandlers:
    preview: PreviewHandler | None = None
    search: SearchHandler | None = None

    @property
    def ops(self) -> list[str]:
        return [op for op in ("preview", "search") if getattr(self, op) is not None]


_HANDLERS: dict[str, EntityHandlers] = {}


def _name(function: Callable[..., Any]) -> str:
    return f"{function.__module__}.{function.__qualname__}"


def register(preview: PreviewHandler | None = None, search: SearchHandler | None = None) -> str:
    """Registers a page's handlers; returns the key the bridge sends back with each call."""
    handlers = EntityHandlers(preview, search)
    key = "+".join(_name(f) for f in (preview, search) if f is not None)
    if not key:
        raise ValueError("register() needs a preview or a search handler")
    _HANDLERS[key] = handlers
    return key


def handlers(key: str) -> EntityHandlers | None:
    return _HANDLERS.get(key)


_THREADS = anyio.CapacityLimiter(4)  # plain (blocking) handlers at once, off the event loop


async def _settle(handler: Callable[..., Any], *args: Any) -> Any:
    """The handler's answer: an async one awaited, a plain one run in a worker thread
    (a blocking lookup must not stop the server's other requests)."""
    if inspect.iscoroutinefunction(handler):
        return await handler(*args)
    value = await anyio.to_thread.run_sync(functools.partial(handler, *args), limiter=_THREADS)
    return await value if inspect.isawaitable(value) else value


def _plain(value: Any) -> Any:
    dump: Callable[..., Any] | None = getattr(value, "model_dump", None)
    return dump(mode="json", by_alias=True, exclude_none=True) if dump else value


async def preview(found: EntityHandlers, entity: EntityRef, context: RequestContext) -> dict[str, Any] | None:
    """The handler's widget as ChatKit's JSON (None: no preview)."""
    if found.preview is None:
        return None
    widget = _plain(await _settle(found.preview, entity, context))
    return widget if isinstance(widget, dict) else None


async def search(found: EntityHandlers, query: str, context: RequestContext) -> list[dict[str, Any]]:
    """The handler's entities, each checked (a malformed one is dropped), at most MAX_RESULTS."""
    if found.search is None:
        return []
    results = await _settle(found.search, query, context)
    entities = []
    for result in list(results or [])[:MAX_RESULTS]:
        try:
            entities.append(EntityRef.model_validate(_plain(result)).model_dump(exclude_none=True))
        except ValueError:
            continue
    return entities
