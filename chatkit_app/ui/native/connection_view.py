"""Whether the chat can reach its server, told the way it is: connected, reconnecting
(Reflex's event socket keeps failing to connect) or offline (the browser says it has
no network). Also the hook that brings a tab back after a reconnect.

Reflex's own toast says "Cannot connect" generically; here the chat says what it means
for the visitor: the message box keeps what they write, and it goes out once back.
"""

from __future__ import annotations

import reflex as rx
from reflex.components.core.banner import has_connection_errors
from reflex.vars import Var, VarData

from chatkit_app.ui.native.state import NativeChatState

# `navigator.onLine`, kept current by the browser's online/offline events. It starts as
# online, as the page's prebuilt HTML was rendered (reading `navigator` while rendering
# would not match it, and React would render the whole page again).
_ONLINE_HOOK = """const [browserOnline, setBrowserOnline] = useState(true);
useEffect(() => {
  const online = () => setBrowserOnline(true);
  const offline = () => setBrowserOnline(false);
  setBrowserOnline(navigator.onLine !== false);
  window.addEventListener("online", online);
  window.addEventListener("offline", offline);
  return () => { window.removeEventListener("online", online); window.removeEventListener("offline", offline); };
}, []);"""

browser_online: Var[bool] = Var(
    _js_expr="browserOnline",
    _var_type=bool,
    _var_data=VarData(hooks={_ONLINE_HOOK: None}, imports={"react": ["useState", "useEffect"]}),
)

connection_state: Var[str] = rx.cond(
    ~browser_online, "offline", rx.cond(has_connection_errors, "reconnecting", "connected")
).to(str)

CONNECTED = connection_state == "connected"

_WORDS = {
    "offline": "You are offline. What you write stays in the box and is sent when the network is back.",
    "reconnecting": "Reconnecting to the server… What you write stays in the box and is sent once it is back.",
}


def connection_banner() -> rx.Component:
    """A line above the conversation while the server cannot be reached."""
    return rx.cond(
        CONNECTED,
        rx.fragment(),
        rx.callout.root(
            rx.callout.icon(rx.cond(connection_state == "offline", rx.icon("wifi-off"), rx.spinner(size="1"))),
            rx.callout.text(rx.cond(connection_state == "offline", _WORDS["offline"], _WORDS["reconnecting"])),
            color_scheme=rx.cond(connection_state == "offline", "gray", "amber"),
            role="status",
            size="1",
            width="100%",
            data_testid="connection-status",
            data_state=connection_state,
        ),
    )


def reconnect_watch() -> rx.Component:
    """Mounted whenever the socket is connected, so it mounts again after each
    reconnect: `resume` reloads what a restarted backend lost and ends a dead turn.
    Keyed by the connection's id, it mounts again also after a reconnect that failed
    not once: a host gone mid-reply, the balancer sending the tab straight to another
    host, which may hand the tab a new token and a fresh state (a blank chat, else)."""
    return rx.cond(
        has_connection_errors,
        rx.fragment(),
        rx.box(  # the key on a box around: the mount hook lives in the inner one's wrapper
            rx.box(on_mount=NativeChatState.resume, data_testid="reconnect-watch"),
            key=rx.State.router.session.session_id,
            display="none",
        ),
    )


def connection_badge() -> rx.Component:
    """For the top bar: shown instead of the session's green badge while disconnected."""
    return rx.badge(
        rx.cond(connection_state == "offline", rx.icon("wifi-off", size=14), rx.spinner(size="1")),
        rx.cond(connection_state == "offline", "Offline", "Reconnecting…"),
        color_scheme=rx.cond(connection_state == "offline", "gray", "amber"),
        size="2",
        data_testid="connection-badge",
    )
