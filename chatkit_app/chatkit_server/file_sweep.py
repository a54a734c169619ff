"""The sweep of stored files that no attachment row names: left when the storage was down
while a thread or an unsent upload was deleted, or by a process that died between storing
an upload and recording it. Only files older than the cut-off go (an upload in progress is
younger), checked against the database in batches."""

from __future__ import annotations

from chatkit_app.chatkit_server.store import SQLModelStore
from chatkit_app.storage import FileStorage, StoredEntry, StoredFileMissing

BATCH = 500


async def sweep_orphans(storage: FileStorage, store: SQLModelStore, *, older_than: float) -> int:
    """Remove the files of `storage` last written before `older_than` (Unix seconds) that
    no row of `store` names; how many."""
    removed = 0
    batch: list[StoredEntry] = []
    async for entry in storage.entries():
        if entry.modified < older_than:
            batch.append(entry)
        if len(batch) >= BATCH:
            removed += await _remove_unnamed(storage, store, batch)
            batch = []
    if batch:
        removed += await _remove_unnamed(storage, store, batch)
    return removed


async def _remove_unnamed(storage: FileStorage, store: SQLModelStore, batch: list[StoredEntry]) -> int:
    named = await store.named_files([entry.name for entry in batch])
    removed = 0
    for entry in batch:
        if entry.name not in named:
            try:
                await storage.delete(entry.name)
            except StoredFileMissing:
                continue  # not a name of ours: left alone
            removed += 1
    return removed
