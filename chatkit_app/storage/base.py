"""What the app asks of a file store: put a stream under a size limit, read it back (whole,
bounded, or a byte range, streamed), delete it, and say whether the store is reachable.

Two stores implement it (`local.LocalStorage`, `s3.S3Storage`); the attachment code uses
only this interface, so a file uploaded through one host can be read through any other
when they share an S3 bucket. Names are ours (random, URL-safe); a store refuses others.
A store that cannot be reached raises `errors.StorageUnavailable` (503, naming the file
storage, never an address or a credential); a name it does not hold, `StoredFileMissing`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from chatkit_app.errors import PayloadTooLarge

CHUNK_BYTES = 256 * 1024  # one read of a stored file while it streams out
_NAME = re.compile(r"^[A-Za-z0-9_-]{8,128}$")


class StoredFileMissing(LookupError):
    """The store holds no file of that name."""


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """A file the store holds: its name and when it was last written (Unix seconds)."""

    name: str
    modified: float


class Opened:
    """An open stored file (or a range of it): `length` bytes, streamed by iterating.
    Its handle is released when the iteration ends or `aclose` is called."""

    def __init__(self, length: int, chunks: AsyncIterator[bytes], close: Callable[[], Awaitable[None]]) -> None:
        self.length = length
        self._chunks = chunks
        self._close = close

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._chunks:
                yield chunk
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        close, self._close = self._close, _nothing
        await close()


async def _nothing() -> None:
    return None


class FileStorage(Protocol):
    """A place for file bytes, shared by every host that is configured with it."""

    description: str  # where the files are, for logs and errors: no credential in it

    async def put(self, name: str, chunks: AsyncIterator[bytes], *, limit: int) -> int:
        """Store `chunks` under `name` and return their size. Past `limit` bytes it stops
        with `PayloadTooLarge`; on that or any other failure (the chunks' own included)
        nothing is left under `name` or anywhere else."""
        ...

    async def open(self, name: str, *, offset: int = 0, length: int | None = None) -> Opened:
        """The file's bytes from `offset`, `length` of them (None: to the end)."""
        ...

    async def read(self, name: str, *, limit: int) -> bytes:
        """At most `limit + 1` bytes from the start (more than `limit` says "too big")."""
        ...

    async def delete(self, name: str) -> None:
        """Remove the file; a missing one is fine."""
        ...

    async def size(self, name: str) -> int | None:
        """The file's size, or None when the store does not hold it."""
        ...

    def entries(self) -> AsyncIterator[StoredEntry]:
        """Every file the store holds (for the sweep of files no row names)."""
        ...

    async def ready(self) -> None:
        """Returns when the store can be used; raises `StorageUnavailable` (quickly) when not."""
        ...


def check_name(name: str) -> str:
    """`name` if it is one of ours (random, URL-safe), else `StoredFileMissing`."""
    if not _NAME.match(name):
        raise StoredFileMissing("not a stored file name")
    return name


class SizeCounter:
    """Counts bytes as they pass and stops with `PayloadTooLarge` past `limit`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.size = 0

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            raise PayloadTooLarge(f"The file is larger than {self.limit} bytes.")
