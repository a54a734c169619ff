"""What the native UI's own JavaScript assumes of Reflex's client (its `state.js`, bundled
into every page), checked against the installed Reflex so an upgrade that moves it fails
here rather than silently in a browser."""

from __future__ import annotations

import re
from pathlib import Path

import reflex_base

STATE_JS = Path(reflex_base.__file__).parent / ".templates" / "web" / "utils" / "state.js"
SERVER_WATCH = Path(__file__).resolve().parents[2] / "chatkit_app" / "ui" / "native" / "server_watch.jsx"


def test_the_tab_token_lives_in_session_storage_under_the_key_server_watch_removes() -> None:
    """After an outage, `server_watch.jsx` reloads the page with a new token by removing
    Reflex's from sessionStorage; Reflex makes a new one when it finds none."""
    state_js = STATE_JS.read_text()
    key = re.search(r'const TOKEN_KEY = "([^"]+)";', state_js)
    assert key, "Reflex's state.js no longer names its token key TOKEN_KEY"
    assert "window.sessionStorage.getItem(TOKEN_KEY)" in state_js
    assert "window.sessionStorage.setItem(TOKEN_KEY, unsavedToken ?? generateUUID())" in state_js
    ours = re.search(r'const REFLEX_TOKEN_KEY = "([^"]+)";', SERVER_WATCH.read_text())
    assert ours and ours.group(1) == key.group(1)
