"""`CHATKIT_STORAGE_URL`: a local directory (a path or `file://` URL) or `s3://bucket/prefix`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# S3's bucket names (R2's and MinIO's are a subset): 3-63 of a-z 0-9 . -
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()/\-]*$")


@dataclass(frozen=True, slots=True)
class StorageLocation:
    directory: Path | None = None  # a local directory, or
    bucket: str = ""  # an S3 bucket and the key prefix inside it
    prefix: str = ""


def parse_storage_url(value: str, *, default_directory: Path) -> StorageLocation:
    """Where files go; `ValueError` with one line saying what is wrong."""
    value = value.strip()
    if not value:
        return StorageLocation(directory=default_directory)
    if value.startswith("s3://"):
        bucket, _, prefix = value[len("s3://") :].partition("/")
        if not _BUCKET.match(bucket):
            raise ValueError(f"{bucket!r} is not an S3 bucket name (s3://bucket/prefix)")
        if not _PREFIX.match(prefix) or "//" in prefix or ".." in prefix.split("/"):
            raise ValueError("the S3 key prefix may hold letters, digits and !_.*'()/- only")
        return StorageLocation(bucket=bucket, prefix=prefix.strip("/"))
    if value.startswith("file://"):
        value = value[len("file://") :]
    elif re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://", value):
        raise ValueError("expected a directory or s3://bucket/prefix")
    path = Path(value).expanduser()
    return StorageLocation(directory=path if path.is_absolute() else (Path.cwd() / path).resolve())
