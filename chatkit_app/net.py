"""Where a request comes from and how the visitor reached us, decided on the server.

`X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` are believed only when the
peer (the TCP connection's address) is one of `CHATKIT_TRUSTED_PROXIES`; anyone else can
write those headers. The `Host` header never decides an absolute URL: `CHATKIT_PUBLIC_URL`
does, and without it the server's own configured address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def is_trusted(peer: str | None, trusted: Sequence[Network]) -> bool:
    if not peer or not trusted:
        return False
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in network for network in trusted)


def client_address(peer: str | None, headers: Mapping[str, str], trusted: Sequence[Network]) -> str:
    """The visitor's address: the peer, or, when the peer is a trusted proxy, the
    right-most address in `X-Forwarded-For` that is not itself a trusted proxy."""
    address = peer or "unknown"
    if not is_trusted(peer, trusted):
        return address
    hops = [hop.strip() for hop in headers.get("x-forwarded-for", "").split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return address  # a malformed chain: keep the proxy's own address
        if not is_trusted(hop, trusted):
            return hop
        address = hop
    return address


def forwarded_proto(peer: str | None, headers: Mapping[str, str], trusted: Sequence[Network], default: str) -> str:
    if is_trusted(peer, trusted):
        proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            return proto
    return default


def headers_of(raw: Sequence[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI headers as a dict of lower-case names (the last value wins)."""
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in raw}
