"""`chatkit_widget(...)`: ChatKit's React component as a Reflex component.

Options come from the workflow's public config, overridden by Python arguments (typed
models from `chatkit_app.workflows.ui_options`, plain ChatKit-style dicts, or Reflex
state vars, which stay reactive). The session comes from `ChatSessionState`, created on
the server for the server-resolved user; the browser gets only that session's token.
"""

from __future__ import annotations

from typing import Any

import reflex as rx
from reflex.event import no_args_event_spec, passthrough_event_spec

from chatkit_app.core.entity_handlers import PreviewHandler, SearchHandler, register
from chatkit_app.settings import get_settings
from chatkit_app.ui.state import ChatSessionState
from chatkit_app.workflows.registry import build_registry
from chatkit_app.workflows.ui_options import OPTION_FIELDS

CHATKIT_REACT = "@openai/chatkit-react@1.6.1"
LOCALHOST_DOMAIN_KEY = "domain_pk_localhost_dev"
SCRIPT_TIMEOUT_MS = 5000

_Payload = passthrough_event_spec(dict[str, Any])


class ChatKitBridge(rx.NoSSRComponent):
    """The `.jsx` bridge: `useChatKit` + `<ChatKit>`, authorised fetch, events."""

    library = rx.asset("bridge.jsx", shared=True).importable_path
    tag = "ChatKitBridge"
    lib_dependencies: list[str] = [CHATKIT_REACT]

    element_id: rx.Var[str]
    mode: rx.Var[str]
    session_id: rx.Var[str]
    token: rx.Var[str]
    client_secret: rx.Var[str]
    api_path: rx.Var[str]
    domain_key: rx.Var[str]
    script_url: rx.Var[str]
    script_timeout_ms: rx.Var[int]
    base_options: rx.Var[dict[str, Any]]
    options: rx.Var[dict[str, Any]]
    entity_handler: rx.Var[str]
    entity_handler_ops: rx.Var[list[str]]

    on_token_refresh: rx.EventHandler[_Payload]
    on_script_status: rx.EventHandler[_Payload]
    on_ready: rx.EventHandler[no_args_event_spec]
    on_error: rx.EventHandler[_Payload]
    on_response_start: rx.EventHandler[no_args_event_spec]
    on_response_end: rx.EventHandler[no_args_event_spec]
    on_thread_change: rx.EventHandler[_Payload]
    on_thread_load_start: rx.EventHandler[_Payload]
    on_thread_load_end: rx.EventHandler[_Payload]
    on_log: rx.EventHandler[_Payload]
    on_effect: rx.EventHandler[_Payload]
    on_tool_change: rx.EventHandler[_Payload]
    on_history_open: rx.EventHandler[no_args_event_spec]
    on_history_close: rx.EventHandler[no_args_event_spec]
    on_deeplink: rx.EventHandler[_Payload]
    on_widget_action: rx.EventHandler[_Payload]
    on_client_tool: rx.EventHandler[_Payload]
    on_header_action: rx.EventHandler[_Payload]
    on_entity_click: rx.EventHandler[_Payload]
    on_command: rx.EventHandler[_Payload]


EVENT_NAMES = (
    "on_token_refresh",
    "on_script_status",
    "on_ready",
    "on_error",
    "on_response_start",
    "on_response_end",
    "on_thread_change",
    "on_thread_load_start",
    "on_thread_load_end",
    "on_log",
    "on_effect",
    "on_tool_change",
    "on_history_open",
    "on_history_close",
    "on_deeplink",
    "on_widget_action",
    "on_client_tool",
    "on_header_action",
    "on_entity_click",
    "on_command",
)


def chatkit_options(overrides: dict[str, Any]) -> dict[str, Any]:
    """Python's options, in ChatKit's camelCase. Literal values are checked against
    ChatKit's option types here, at build time; Vars pass through and stay reactive.
    The bridge lays them over the session's workflow options from the config."""
    literal: dict[str, Any] = {}
    reactive: dict[str, Any] = {}
    for name, value in overrides.items():
        if name not in OPTION_FIELDS:
            raise TypeError(f"chatkit_widget() got an unknown ChatKit option {name!r}")
        key = _camel(name)
        if _has_var(value):
            reactive[key] = value
        else:
            model = OPTION_FIELDS[name]
            if hasattr(value, "to_js"):
                value = value.to_js()
            elif model is not None and isinstance(value, dict):
                value = model.model_validate(value).to_js()
            literal[key] = value
    return {**literal, **reactive}


def _has_var(value: Any) -> bool:
    if isinstance(value, rx.Var):
        return True
    if isinstance(value, dict):
        return any(_has_var(inner) for inner in value.values())
    if isinstance(value, list | tuple):
        return any(_has_var(inner) for inner in value)
    return False


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def chatkit_widget(
    workflow_id: str | rx.Var[str] = "",
    user_id: str | rx.Var[str] = "",
    *,
    element_id: str = "chatkit",
    style: dict[str, Any] | None = None,
    entity_preview: PreviewHandler | None = None,
    tag_search: SearchHandler | None = None,
    **options: Any,
) -> rx.Component:
    """The ChatKit chat for `workflow_id` (default: the site's default workflow).

    Keyword arguments are ChatKit's options (`theme`, `locale`, `header`, `history`,
    `start_screen`, `composer`, `disclaimer`, `thread_item_actions`, `entities`,
    `initial_thread`, `frame_title`, `thread`, `commands`) and its events (`on_ready`,
    `on_error`, `on_thread_change`, `on_command`, ... see `EVENT_NAMES`), which take Reflex
    event handlers. `entity_preview(entity, context)` answers ChatKit's entity previews with
    a widget (or None), `tag_search(query, context)` its tag search with entities: plain
    Python functions (sync or async), called on the server for the session's user.
    `workflow_id` may be a Var (e.g. a route argument); `user_id`, when given, must be
    the server-resolved user.
    """
    settings = get_settings()
    if isinstance(workflow_id, str) and workflow_id:
        build_registry(settings).get(workflow_id)  # an unknown id fails the build, not the visitor
    handlers = {name: options.pop(name) for name in list(options) if name.startswith("on_")}
    unknown = set(handlers) - set(EVENT_NAMES)
    if unknown:
        raise TypeError(f"chatkit_widget() got unknown events {sorted(unknown)}; known: {sorted(EVENT_NAMES)}")
    own_refresh = handlers.pop("on_token_refresh", None)
    handlers["on_token_refresh"] = [ChatSessionState.adopt_refreshed_session] + ([own_refresh] if own_refresh else [])
    entity_key = register(entity_preview, tag_search) if entity_preview or tag_search else ""
    bridge = ChatKitBridge.create(
        element_id=element_id,
        mode=ChatSessionState.session_data["mode"].to(str),
        session_id=ChatSessionState.session_data["sessionId"].to(str),
        token=ChatSessionState.browser_token,
        client_secret=ChatSessionState.client_secret,
        api_path="/api/chatkit",
        domain_key=settings.chatkit_domain_key or LOCALHOST_DOMAIN_KEY,
        script_url=settings.chatkit_script_url,
        script_timeout_ms=SCRIPT_TIMEOUT_MS,
        base_options=ChatSessionState.workflow_ui,
        options=chatkit_options(options),
        entity_handler=entity_key,
        entity_handler_ops=[op for op, f in (("preview", entity_preview), ("search", tag_search)) if f],
        width="100%",
        height="100%",
        **handlers,
    )
    return rx.box(
        rx.cond(
            ChatSessionState.session_ready,
            bridge,
            rx.center(rx.spinner(size="3"), height="100%", data_testid="chatkit-connecting"),
        ),
        on_mount=ChatSessionState.ensure_session(workflow_id, user_id),
        width="100%",
        height="100%",
        min_height="480px",
        **(style or {}),
    )
