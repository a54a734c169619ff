"""File storage for attachment bytes: a local directory or an S3-compatible bucket, behind
one small interface (`base.FileStorage`). Built from the settings by `build.build_storage`."""

from chatkit_app.storage.base import FileStorage, Opened, StoredEntry, StoredFileMissing

__all__ = ["FileStorage", "Opened", "StoredEntry", "StoredFileMissing"]
