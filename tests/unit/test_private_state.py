"""No credential and no request header (the identity cookie) in what Reflex persists of
a state (`.states/` files or Redis): `chatkit_app/ui/private_state.py`."""

from __future__ import annotations

import pickle

from reflex.state import BaseState, State

from chatkit_app.ui import private_state
from chatkit_app.ui.state import ChatSessionState

COOKIE = "chatkit_anon=COOKIE-VALUE-123"
TOKEN = "eyJTOKEN-VALUE-456"


def _states() -> tuple[State, ChatSessionState]:
    root = State(_reflex_internal_init=True)  # type: ignore[call-arg]
    session = root.get_substate(ChatSessionState.get_full_name().split(".")[1:])
    assert isinstance(session, ChatSessionState)
    headers = {"cookie": COOKIE, "authorization": f"Bearer {TOKEN}"}
    for state in (root, session):
        state.router_data = {"headers": headers}
    session.browser_token = session.client_secret = session._token = TOKEN
    session.session_data = {"sessionId": "cks_x", "userId": "anon_y"}
    return root, session


def test_the_names_the_wrapper_relies_on_still_exist() -> None:
    assert BaseState.__getstate__ is private_state._getstate_without_credentials
    for name in (*private_state.HEADER_FIELDS, "router_data"):
        assert name in State.__fields__, name
    for name in ChatSessionState._never_persisted:
        assert hasattr(ChatSessionState, name) or name in ChatSessionState.__fields__, name


def test_pickles_hold_no_cookie_and_no_token_but_keep_the_rest() -> None:
    root, session = _states()
    raw = pickle.dumps(root) + pickle.dumps(session)
    assert COOKIE.encode() not in raw
    assert TOKEN.encode() not in raw
    restored = pickle.loads(pickle.dumps(session))  # noqa: S301 (our own bytes)
    assert restored.session_data == {"sessionId": "cks_x", "userId": "anon_y"}
    # The root's router_data stays, minus its secret headers: Reflex reads an empty one as
    # an expired tree (and would reset it).
    assert pickle.loads(pickle.dumps(root)).router_data == {"headers": {}}  # noqa: S301
    assert restored.browser_token == "" and restored._token == ""
    # The live state itself is untouched: only what is persisted leaves them out.
    assert session.browser_token == TOKEN


def test_without_the_wrapper_they_would_be_persisted() -> None:
    """The test above can fail: Reflex's own pickling keeps both."""
    root, session = _states()
    raw = pickle.dumps(private_state._original_getstate(root)) + pickle.dumps(private_state._original_getstate(session))
    assert COOKIE.encode() in raw and TOKEN.encode() in raw
