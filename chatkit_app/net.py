"""Where a request comes from and how the visitor reached us, decided on the server.

`X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host` are believed only when the
peer (the TCP connection's address) is one of `CHATKIT_TRUSTED_PROXIES`; anyone else can
write those headers. The `Host` header never decides an absolute URL: `CHATKIT_PUBLIC_URL`
does, and without it the server's own configured address.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Mapping, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_HOST = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")


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
    """ASGI headers as a dict of lower-case names. Repeated `cookie` headers (HTTP/2 sends
    one per cookie) are joined with "; ", as Reflex joins them for its events; for any
    other header the last value wins."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}; {value}" if name == "cookie" and name in headers else value
    return headers


def public_base_url(
    public_url: str | None,
    configured: str,
    peer: str | None,
    headers: Mapping[str, str],
    trusted: Sequence[Network],
) -> str:
    """The absolute base of this site for URLs we hand out (uploads, image previews):
    `CHATKIT_PUBLIC_URL` when set; else the server's configured address (Reflex's
    `api_url`), whose scheme and host a trusted proxy may replace with
    `X-Forwarded-Proto` / `X-Forwarded-Host`. The `Host` header is never used: anyone can
    send any Host, and a URL built from it would point the browser (and its bearer
    token, for uploads) at a host of the sender's choosing."""
    if public_url:
        return public_url.rstrip("/")
    parts = urllib.parse.urlsplit(configured.rstrip("/"))
    scheme, netloc = parts.scheme or "http", parts.netloc
    if is_trusted(peer, trusted):
        scheme = forwarded_proto(peer, headers, trusted, scheme)
        host = headers.get("x-forwarded-host", "").split(",")[0].strip()
        if host and _HOST.match(host):
            netloc = host
    return urllib.parse.urlunsplit((scheme, netloc, parts.path, "", ""))
