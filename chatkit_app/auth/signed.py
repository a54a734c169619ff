"""Short-lived signed values for cookies (HMAC-SHA256 over base64url JSON, with an
expiry and a purpose, so a value minted for one use is refused for another)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any


def _mac(key: bytes, purpose: str, body: str) -> str:
    digest = hmac.new(key, f"{purpose}:{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(key: bytes, purpose: str, payload: dict[str, Any], *, max_age: int, now: float | None = None) -> str:
    data = {**payload, "exp": int((time.time() if now is None else now) + max_age)}
    body = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{body}.{_mac(key, purpose, body)}"


def unsign(key: bytes, purpose: str, value: str | None, *, now: float | None = None) -> dict[str, Any] | None:
    """The payload, or None when the value is missing, forged, for another purpose or expired."""
    if not value or len(value) > 4096 or value.count(".") != 1:
        return None
    body, mac = value.split(".")
    if not hmac.compare_digest(mac, _mac(key, purpose, body)):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("exp"), int):
        return None
    if data["exp"] <= (time.time() if now is None else now):
        return None
    return data
