// Bridge between Reflex and ChatKit's React wrapper (`useChatKit` + `<ChatKit>`).
//
// Python decides everything public (options, session id, mode); this file only adds what
// must run in the browser: the authorised `fetch` (bearer token, one refresh on 401),
// `getClientSecret` for hosted workflows, the script tag, and forwarding ChatKit's events
// to Reflex event handlers. The session token stays in memory here: never in the DOM,
// never sent to another origin.
import React, { useCallback, useEffect, useMemo, useRef } from "react";
import { ChatKit, useChatKit } from "@openai/chatkit-react";
import { getBackendURL } from "$/utils/state";

const SCRIPT_ATTR = "data-chatkit-script";

function registry() {
  if (!window.__chatkitApp) {
    window.__chatkitApp = {
      elements: {},
      // Called by the Python helpers in chatkit_app/ui/chatkit/methods.py.
      call(elementId, method, ...args) {
        const control = this.elements[elementId];
        if (!control) {
          console.warn(`chatkit: no chat with id ${elementId} on this page`);
          return undefined;
        }
        return control[method](...args);
      },
    };
  }
  return window.__chatkitApp;
}

function backendOrigin() {
  return getBackendURL().origin;
}

// Inserts <script src async> once; reports "loaded", "failed" or "timeout".
function useChatKitScript(scriptUrl, timeoutMs, onStatus) {
  useEffect(() => {
    if (!scriptUrl) return undefined;
    let settled = false;
    const report = (status) => {
      if (!settled) {
        settled = true;
        onStatus?.(status);
      }
    };
    if (customElements.get("openai-chatkit")) {
      report("loaded");
      return undefined;
    }
    let script = document.querySelector(`script[${SCRIPT_ATTR}]`);
    if (!script) {
      script = document.createElement("script");
      script.src = scriptUrl;
      script.async = true;
      script.setAttribute(SCRIPT_ATTR, "");
      document.head.appendChild(script);
    }
    const failed = () => report("failed");
    script.addEventListener("error", failed);
    customElements.whenDefined("openai-chatkit").then(() => report("loaded"));
    const timer = setTimeout(() => report("timeout"), timeoutMs);
    return () => {
      settled = true;
      clearTimeout(timer);
      script.removeEventListener("error", failed);
    };
  }, [scriptUrl, timeoutMs]);
}

// The workflow's configured options, with the page's Python options on top.
function deepMerge(base, override) {
  const merged = { ...base };
  for (const [key, value] of Object.entries(override)) {
    const inner = merged[key];
    const mergeable = (v) => v && typeof v === "object" && !Array.isArray(v);
    merged[key] = mergeable(value) && mergeable(inner) ? deepMerge(inner, value) : value;
  }
  return merged;
}

// The server refuses a chat request over a limit (rate or quota) before streaming, with
// HTTP 429 and its message ("You can send 20 messages a minute; try again in 12 s.").
// ChatKit shows an HTTP failure as a generic error, but shows a protocol error event's
// message: hand it the refusal as one, so the visitor reads why and when to try again.
const STREAMING_REQUESTS = new Set([
  "threads.create",
  "threads.add_user_message",
  "threads.retry_after_item",
  "threads.custom_action",
  "threads.add_client_tool_output",
  "threads.add_structured_input",
]);

function isStreamingRequest(body) {
  try {
    return typeof body === "string" && STREAMING_REQUESTS.has(JSON.parse(body)?.type);
  } catch {
    return false;
  }
}

async function limitAsErrorEvent(response) {
  let message = "Too many requests; try again shortly.";
  try {
    message = (await response.clone().json())?.error?.message || message;
  } catch {
    // not our JSON envelope: keep the generic message
  }
  const event = { type: "error", code: "custom", message, allow_retry: true };
  return new Response(`data: ${JSON.stringify(event)}\n\n`, {
    status: 200,
    headers: { "Content-Type": "text/event-stream", "Retry-After": response.headers.get("Retry-After") ?? "" },
  });
}

// The configured commands by id (sub-menus included), for ChatKit's `commands.onSelect`.
function commandIndex(items, index = new Map()) {
  for (const command of items ?? []) {
    index.set(command.id, command);
    commandIndex(command.commands, index);
  }
  return index;
}

// What ChatKit is shown of a command: no outcome fields.
function asCommand({ id, label, description, icon, group }) {
  return Object.fromEntries(Object.entries({ id, label, description, icon, group }).filter(([, v]) => v != null));
}

function commandMatches(command, needle) {
  return [command.label, command.id, command.description, command.group]
    .some((text) => String(text ?? "").toLowerCase().includes(needle));
}

function errorDetail(detail) {
  const error = detail?.error ?? detail;
  return { message: String(error?.message ?? error ?? "unknown error"), name: String(error?.name ?? "Error") };
}

export function ChatKitBridge({
  elementId = "chatkit",
  mode = "agent",
  sessionId = "",
  token = "",
  clientSecret = "",
  apiPath = "/api/chatkit",
  domainKey = "domain_pk_localhost_dev",
  scriptUrl = "",
  scriptTimeoutMs = 5000,
  baseOptions = {},
  options = {},
  onTokenRefresh,
  onScriptStatus,
  onReady,
  onError,
  onResponseStart,
  onResponseEnd,
  onThreadChange,
  onThreadLoadStart,
  onThreadLoadEnd,
  onLog,
  onEffect,
  onToolChange,
  onHistoryOpen,
  onHistoryClose,
  onDeeplink,
  onWidgetAction,
  onClientTool,
  onHeaderAction,
  onEntityClick,
  onCommand,
  entityHandler = "",
  entityHandlerOps = [],
  className,
  id,
}) {
  const tokenRef = useRef(token);
  const secretRef = useRef(clientSecret);
  const sessionRef = useRef(sessionId);
  const refreshing = useRef(null);
  const handlers = useRef({});
  handlers.current = {
    onTokenRefresh, onScriptStatus, onReady, onError, onResponseStart, onResponseEnd, onThreadChange,
    onThreadLoadStart, onThreadLoadEnd, onLog, onEffect, onToolChange, onHistoryOpen, onHistoryClose,
    onDeeplink, onWidgetAction, onClientTool, onHeaderAction, onEntityClick, onCommand,
  };
  const control = useRef(null); // the chat's methods, once useChatKit made them
  // Reflex event props are new functions on every render; ChatKit gets stable ones that
  // call the latest prop.
  const emit = (name, value) => handlers.current[name]?.(value);

  // A newer token from Python (e.g. its own refresh) replaces ours.
  useEffect(() => {
    tokenRef.current = token;
    secretRef.current = clientSecret;
    sessionRef.current = sessionId;
  }, [token, clientSecret, sessionId]);

  // One refresh at a time: refreshing twice with one token would look like token theft
  // to the server, which then revokes the whole session.
  const refresh = useCallback(() => {
    if (!refreshing.current) {
      const used = tokenRef.current;
      refreshing.current = (async () => {
        const sid = encodeURIComponent(sessionRef.current);
        const response = await fetch(`${backendOrigin()}/api/chatkit/session/${sid}/refresh`, {
          method: "POST",
          headers: { Authorization: `Bearer ${used}` },
        });
        if (!response.ok) return null;
        const session = await response.json();
        tokenRef.current = session.token;
        secretRef.current = session.chatkit?.clientSecret ?? "";
        emit("onTokenRefresh", session);
        return session;
      })().finally(() => {
        refreshing.current = null;
      });
    }
    return refreshing.current;
  }, []);

  const authorisedFetch = useCallback(
    async (input, init = {}) => {
      const request = input instanceof Request ? input : null;
      const url = new URL(request ? request.url : String(input), window.location.href);
      if (url.origin !== backendOrigin()) return fetch(input, init);
      const send = (bearer) => {
        const headers = new Headers(init.headers ?? request?.headers);
        headers.set("Authorization", `Bearer ${bearer}`);
        return fetch(input, { ...init, headers });
      };
      const used = tokenRef.current;
      const response = await send(used);
      if (response.status === 429 && url.pathname.endsWith(apiPath) && isStreamingRequest(init.body)) {
        return limitAsErrorEvent(response);
      }
      if (response.status !== 401) return response;
      const session = tokenRef.current !== used ? { token: tokenRef.current } : await refresh();
      return session ? send(session.token) : response;
    },
    [refresh, apiPath],
  );

  const getClientSecret = useCallback(
    async (current) => {
      if (!current && secretRef.current) return secretRef.current;
      const session = await refresh();
      if (!session?.chatkit?.clientSecret) throw new Error("Could not renew the chat session.");
      return session.chatkit.clientSecret;
    },
    [refresh],
  );

  // The Python handler of this page's entity callbacks (`chatkit_widget(entity_preview=…,
  // tag_search=…)`), behind an authenticated route scoped to the session's user.
  const askEntities = useCallback(
    async (op, params) => {
      const response = await authorisedFetch(`${backendOrigin()}${apiPath}/entities`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ handler: entityHandler, op, ...params }),
      });
      if (!response.ok) throw new Error(`entity ${op} failed (HTTP ${response.status})`);
      return response.json();
    },
    [authorisedFetch, apiPath, entityHandler],
  );

  const chatkitOptions = useMemo(() => {
    const { entities, header, commands, ...rest } = deepMerge(baseOptions ?? {}, options ?? {});
    const built = {
      ...rest,
      api:
        mode === "hosted"
          ? { getClientSecret }
          : {
              url: `${backendOrigin()}${apiPath}`,
              domainKey,
              fetch: authorisedFetch,
              uploadStrategy: { type: "two_phase" },
            },
      onClientTool: async (call) => {
        emit("onClientTool", { name: call?.name, params: call?.params ?? {} });
        return { ok: true };
      },
      widgets: {
        onAction: async (action, widgetItem) => {
          emit("onWidgetAction", { action, itemId: widgetItem?.id ?? null });
        },
      },
      onReady: () => emit("onReady"),
      onError: (detail) => emit("onError", errorDetail(detail)),
      onResponseStart: () => emit("onResponseStart"),
      onResponseEnd: () => emit("onResponseEnd"),
      onThreadChange: (detail) => emit("onThreadChange", { threadId: detail?.threadId ?? null }),
      onThreadLoadStart: (detail) => emit("onThreadLoadStart", { threadId: detail?.threadId ?? null }),
      onThreadLoadEnd: (detail) => emit("onThreadLoadEnd", { threadId: detail?.threadId ?? null }),
      onLog: (detail) => emit("onLog", { name: detail?.name ?? "", data: detail?.data ?? {} }),
      onEffect: (detail) => emit("onEffect", { name: detail?.name ?? "", data: detail?.data ?? {} }),
      onToolChange: (detail) => emit("onToolChange", { toolId: detail?.toolId ?? null }),
      onHistoryOpen: () => emit("onHistoryOpen"),
      onHistoryClose: () => emit("onHistoryClose"),
      onDeeplink: (detail) => emit("onDeeplink", { name: detail?.name ?? "", data: detail?.data ?? {} }),
    };
    if (header) {
      built.header = { ...header };
      for (const side of ["left", "right"]) {
        const action = header[`${side}Action`];
        if (action) {
          built.header[`${side}Action`] = { ...action, onClick: () => emit("onHeaderAction", { side }) };
        }
      }
    }
    const handled = new Set(entityHandler ? entityHandlerOps : []);
    if (entities || handled.size) {
      const { tags = [], ...entityOptions } = entities ?? {};
      built.entities = {
        ...entityOptions,
        onTagSearch: async (query) => {
          if (handled.has("search")) {
            return (await askEntities("search", { query: String(query ?? "") })).entities ?? [];
          }
          const needle = String(query ?? "").toLowerCase();
          return tags.filter((tag) => tag.title.toLowerCase().includes(needle));
        },
        onClick: (entity) => emit("onEntityClick", entity),
      };
      if (handled.has("preview")) {
        built.entities.onRequestPreview = async (entity) => {
          const answer = await askEntities("preview", { entity });
          return { preview: answer.preview ?? null };
        };
      }
    }
    if (commands) {
      const { items = [], enabled = true } = commands;
      const byId = commandIndex(items);
      built.commands = {
        enabled,
        onSearch: async (query) => {
          const needle = String(query ?? "").trim().toLowerCase();
          return items.filter((c) => commandMatches(c, needle)).map(asCommand);
        },
        // What ChatKit does with the command's configured outcome: a tag, a sub-menu,
        // or an effect (the prompt sent as the user's message).
        onSelect: async (picked) => {
          const command = byId.get(picked?.id);
          emit("onCommand", { id: picked?.id ?? "" });
          if (!command) return undefined;
          if (command.entity) return { type: "entity", entity: command.entity };
          if (command.commands) return { type: "menu", commands: command.commands.map(asCommand) };
          if (command.prompt) await control.current?.sendUserMessage({ text: command.prompt });
          return undefined;
        },
      };
    }
    return built;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [baseOptions, options, mode, apiPath, domainKey, authorisedFetch, getClientSecret, askEntities, entityHandler, entityHandlerOps]);

  const chatkit = useChatKit(chatkitOptions);
  control.current = chatkit;

  useEffect(() => {
    const apps = registry();
    apps.elements[elementId] = chatkit;
    return () => {
      if (apps.elements[elementId] === chatkit) delete apps.elements[elementId];
    };
  }, [elementId, chatkit]);

  useChatKitScript(scriptUrl, scriptTimeoutMs, (status) => emit("onScriptStatus", { status, url: scriptUrl }));

  return <ChatKit control={chatkit.control} className={className} id={id} data-testid="chatkit-element" />;
}
