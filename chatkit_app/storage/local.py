"""Files in a local directory (the embedded default: `CHATKIT_DATA_DIR/uploads`).

Each file is written to a hidden temporary name (mode 0600) and renamed into place only
when complete, so a reader never sees half a file and a failed upload leaves nothing.
Fine for one host, or several that share the directory (NFS); otherwise use S3.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

import anyio.to_thread

from chatkit_app.errors import StorageUnavailable
from chatkit_app.storage.base import CHUNK_BYTES, Opened, SizeCounter, StoredEntry, StoredFileMissing, check_name

logger = logging.getLogger("chatkit_app.storage")
_T = TypeVar("_T")
TEMP_PREFIX = ".part-"


class LocalStorage:
    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()
        self.description = f"directory {self.directory}"

    def _path(self, name: str) -> Path:
        return self.directory / check_name(name)

    async def _run(self, fn: Callable[[], _T]) -> _T:
        try:
            return await anyio.to_thread.run_sync(fn)
        except (FileNotFoundError, StoredFileMissing):
            raise
        except OSError as exc:
            raise self._unavailable(exc) from None

    def _unavailable(self, exc: OSError) -> StorageUnavailable:
        logger.error("file storage unavailable (%s): %s", self.description, exc.strerror or type(exc).__name__)
        return StorageUnavailable()

    async def put(self, name: str, chunks: AsyncIterator[bytes], *, limit: int) -> int:
        target = self._path(name)
        temp = self.directory / f"{TEMP_PREFIX}{secrets.token_urlsafe(12)}"
        counter = SizeCounter(limit)
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise self._unavailable(exc) from None
        try:
            with os.fdopen(fd, "wb") as out:
                async for chunk in chunks:
                    counter.add(chunk)
                    out.write(chunk)  # to the page cache: cheaper than a thread hop per chunk
            os.replace(temp, target)
        except OSError as exc:
            raise self._unavailable(exc) from None
        finally:
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        return counter.size

    async def open(self, name: str, *, offset: int = 0, length: int | None = None) -> Opened:
        path = self._path(name)

        def start() -> tuple[BinaryIO, int]:
            handle = open(path, "rb")  # closed by the Opened
            size = os.fstat(handle.fileno()).st_size
            handle.seek(offset)
            return handle, max(0, min(size - offset, size if length is None else length))

        try:
            handle, count = await self._run(start)
        except FileNotFoundError:
            raise StoredFileMissing(name) from None

        async def chunks() -> AsyncIterator[bytes]:
            left = count
            while left > 0:
                want = min(CHUNK_BYTES, left)
                data = await self._run(lambda: handle.read(want))  # noqa: B023 - awaited at once
                if not data:
                    return
                left -= len(data)
                yield data

        async def close() -> None:
            handle.close()

        return Opened(count, chunks(), close)

    async def read(self, name: str, *, limit: int) -> bytes:
        path = self._path(name)

        def work() -> bytes:
            with open(path, "rb") as handle:
                return handle.read(limit + 1)

        try:
            return await self._run(work)
        except FileNotFoundError:
            raise StoredFileMissing(name) from None

    async def delete(self, name: str) -> None:
        # also a temporary file left by a crash, as `entries` lists them for the sweep
        temp = name.startswith(TEMP_PREFIX)
        path = self.directory / (TEMP_PREFIX + check_name(name[len(TEMP_PREFIX) :]) if temp else check_name(name))
        await self._run(lambda: path.unlink(missing_ok=True))

    async def size(self, name: str) -> int | None:
        path = self._path(name)
        try:
            return await self._run(lambda: path.stat().st_size)
        except FileNotFoundError:
            return None

    async def entries(self) -> AsyncIterator[StoredEntry]:
        def scan() -> list[StoredEntry]:
            if not self.directory.is_dir():
                return []
            found = []
            with os.scandir(self.directory) as listing:
                for entry in listing:
                    with contextlib.suppress(FileNotFoundError):
                        if entry.is_file(follow_symlinks=False):
                            found.append(StoredEntry(entry.name, entry.stat(follow_symlinks=False).st_mtime))
            return found

        for entry in await self._run(scan):
            yield entry

    async def ready(self) -> None:
        def check() -> None:  # a real write: permissions, a full disk, a read-only mount
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            with tempfile.NamedTemporaryFile(dir=self.directory, prefix=".ready-", delete=True) as probe:
                probe.write(b"ok")
                probe.flush()

        await self._run(check)
