"""A 300 MB upload to a running server, streamed from a generator over a plain socket (no
HTTP library that would insist on sending the whole body before reading the answer),
watching the server's open temporary files while it goes."""

from __future__ import annotations

import os
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from tests.e2e.prod_site import session_pids

CHUNK = 256 * 1024
BOUNDARY = "----chatkit-test-boundary"


@dataclass
class UploadOutcome:
    status: int
    seconds: float
    sent: int
    max_temp_bytes: int  # the most the server's temporary files grew by during the upload


def _multipart(total: int) -> Iterator[bytes]:
    """A real multipart body: one `files` part of `total` bytes of text."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="files"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    block = b"a" * CHUNK
    for _ in range(total // CHUNK):
        yield block
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def session_temp_bytes(leader_pid: int) -> int:
    """Bytes in files the server's processes hold open that are temporary: deleted (the
    usual spooled upload) or under a temp dir."""
    total = 0
    for pid in session_pids(leader_pid):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("/") and ("(deleted)" in target or "/tmp" in target):
                    info = os.stat(f"/proc/{pid}/fd/{fd}")
                    if (info.st_mode & 0o170000) == 0o100000:  # a regular file
                        total += info.st_size
            except OSError:
                continue
    return total


def post_upload(url: str, headers: dict[str, str], total: int, pid: int, *, declare_length: bool) -> UploadOutcome:
    """POSTs a `total`-byte multipart body to `url`'s /_upload, chunked or with its
    Content-Length declared; stops sending as soon as an answer (or a closed socket)
    arrives. The server's temp files are sampled after every chunk sent."""
    parts = urlsplit(url)
    body_length = sum(len(part) for part in _multipart(0)) + (total // CHUNK) * CHUNK
    head = [
        "POST /_upload HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}",
        *(f"{name}: {value}" for name, value in headers.items()),
        f"Content-Length: {body_length}" if declare_length else "Transfer-Encoding: chunked",
    ]
    baseline = session_temp_bytes(pid)
    started = time.monotonic()
    sent, peak = 0, baseline
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=30) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        for part in _multipart(total):
            if select.select([sock], [], [], 0)[0]:
                break  # answered (or closed) before the body ended
            frame = part if declare_length else f"{len(part):x}\r\n".encode() + part + b"\r\n"
            try:
                sock.sendall(frame)
            except OSError:  # the server closed the connection: read its answer
                break
            sent += len(part)
            peak = max(peak, session_temp_bytes(pid))
        else:
            if not declare_length:
                sock.sendall(b"0\r\n\r\n")
        answer = b""
        while b"\r\n" not in answer:
            try:
                data = sock.recv(4096)
            except OSError:  # reset after the answer was read by the kernel, or before it
                break
            if not data:
                break
            answer += data
    peak = max(peak, session_temp_bytes(pid))
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/") else 0
    return UploadOutcome(status=status, seconds=time.monotonic() - started, sent=sent, max_temp_bytes=peak - baseline)
