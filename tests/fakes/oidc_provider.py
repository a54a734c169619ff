"""A real OpenID provider on loopback (the `oidc-provider-mock` package: discovery, JWKS,
authorization code + PKCE, nonce) and the steps a browser takes through it, for tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from oidc_provider_mock import run_server_in_thread


@contextmanager
def oidc_provider() -> Iterator[str]:
    """Yields the issuer URL of a provider that requires a nonce."""
    with run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


def set_user(issuer: str, sub: str, **claims: Any) -> None:
    httpx.put(f"{issuer}/users/{sub}", json=claims, timeout=10).raise_for_status()


def authorize(authorize_url: str, sub: str) -> dict[str, str]:
    """The user approves at the provider as `sub`; returns the callback's query (code, state)."""
    response = httpx.post(authorize_url, data={"sub": sub}, timeout=10)
    assert response.status_code in (302, 303), response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return {name: values[0] for name, values in query.items()}
