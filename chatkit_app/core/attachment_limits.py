"""Which files a chat takes and how big each may be, as ChatKit 1.9 says it in
`composer.attachments`: `accept` (MIME type -> extensions) and `maxSize`, one number of
bytes or a map of MIME patterns (`"image/*"`, `"application/pdf"`, `"*"` for the rest) to
bytes, plus `maxCount`.

One policy for everything that checks or shows it: the attachment store refuses by it,
the native composer checks it in the browser first and names it in its tooltip and in a
refused file's message, and ChatKit's own UI is handed it as its option. It lies within
what this server can check (the types it sniffs, `SUPPORTED`) and its hard cap
(`CHATKIT_MAX_UPLOAD_BYTES`); `CHATKIT_UPLOAD_LIMITS` and a workflow's own
`composer.attachments` can only narrow it.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MB = 1024 * 1024
# The types the server can tell from their bytes (chatkit_server/files.py): type ->
# (what a person calls it, its extensions).
SUPPORTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "image/png": ("images", (".png",)),
    "image/jpeg": ("images", (".jpg", ".jpeg")),
    "image/gif": ("images", (".gif",)),
    "image/webp": ("images", (".webp",)),
    "application/pdf": ("PDF", (".pdf",)),
    "text/plain": ("text", (".txt",)),
    "text/csv": ("CSV", (".csv",)),
    "application/json": ("JSON", (".json",)),
    "text/markdown": ("Markdown", (".md", ".markdown")),
}
FALLBACK_KEYS = ("*", "")
_ENTRY = re.compile(r"^\s*([A-Za-z0-9.+\-]+/(?:\*|[A-Za-z0-9.+\-]+)|\*)\s*=\s*(\d+(?:\.\d+)?)\s*(KB|MB|B)?\s*$", re.I)


@dataclass(frozen=True, slots=True)
class AttachmentLimits:
    """The effective limits of one workflow's chat."""

    enabled: bool
    sizes: tuple[tuple[str, int], ...]  # (allowed MIME type, its most bytes), in SUPPORTED's order
    max_count: int | None = None

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(mime for mime, _ in self.sizes)

    @property
    def largest(self) -> int:
        return max((size for _, size in self.sizes), default=0)

    def limit_for(self, mime: str) -> int | None:
        """The most bytes of a file of type `mime`; None: the type is not allowed."""
        return dict(self.sizes).get(_normal(mime)) if self.enabled else None

    def refusal(self, size: int, mime: str) -> str | None:
        """Why a file is refused, in a few plain words with the limit; None if it fits."""
        if not self.enabled:
            return "attachments are off in this chat"
        limit = self.limit_for(mime)
        if limit is None:
            return f"this type is not allowed ({self.kinds()})"
        if size > limit:
            return f"{size_text(size, than=limit)} is over the {size_text(limit)} limit"
        return None

    def kinds(self) -> str:
        """What may be attached, as a person says it: "images, PDF, text, CSV, JSON, Markdown"."""
        return ", ".join(dict.fromkeys(SUPPORTED[mime][0] for mime in self.types)) or "nothing"

    def summary(self) -> str:
        """Each kind with its limit, for a tooltip: "Images up to 5 MB, PDF up to 20 MB"."""
        groups: dict[str, set[int]] = {}
        for mime, size in self.sizes:
            groups.setdefault(SUPPORTED[mime][0], set()).add(size)
        parts = [f"{kind} up to {size_text(max(sizes))}" for kind, sizes in groups.items()]
        text = ", ".join(parts)
        if self.max_count:
            text += f"; at most {self.max_count} files per message"
        return (text[:1].upper() + text[1:]) if text else "No attachments"

    def accept(self) -> dict[str, list[str]]:
        """ChatKit's (and react-dropzone's) `accept`: type -> extensions."""
        return {mime: list(SUPPORTED[mime][1]) for mime in self.types}

    def by_key(self) -> dict[str, int]:
        """Bytes by MIME type and by extension, for the browser's check (a file's type is
        sometimes empty there: then its extension decides)."""
        keys: dict[str, int] = {}
        for mime, size in self.sizes:
            keys[mime] = size
            for ext in SUPPORTED[mime][1]:
                keys[ext] = max(size, keys.get(ext, 0))
        return keys

    def chatkit_option(self) -> dict[str, Any]:
        """`composer.attachments` for ChatKit's UI (maxSize per type, 1.9's shape)."""
        option: dict[str, Any] = {"enabled": self.enabled}
        if self.enabled:
            option["accept"] = self.accept()
            option["maxSize"] = dict(self.sizes)
        if self.max_count:
            option["maxCount"] = self.max_count
        return option


def attachment_limits(ui: Mapping[str, Any], cap: int, site_sizes: Mapping[str, int] | None = None) -> AttachmentLimits:
    """The limits of a workflow whose public UI options are `ui`, on a server that takes at
    most `cap` bytes a file and `site_sizes` (CHATKIT_UPLOAD_LIMITS) per pattern. A type
    whose limit comes to 0 is not allowed. Idempotent: the option it makes, read back,
    gives the same limits."""
    composer = ui.get("composer")
    option = composer.get("attachments") if isinstance(composer, Mapping) else None
    option = option if isinstance(option, Mapping) else {}
    accept = option.get("accept")
    max_size = option.get("maxSize")
    count = option.get("maxCount")
    sizes = []
    for mime in SUPPORTED:
        if isinstance(accept, Mapping) and _match(accept.keys(), mime) is None:
            continue
        limit = min(cap, _size_for(site_sizes or {}, mime, cap), _size_for(max_size, mime, cap))
        if limit > 0:
            sizes.append((mime, limit))
    return AttachmentLimits(
        enabled=option.get("enabled") is not False,
        sizes=tuple(sizes),
        max_count=count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else None,
    )


def parse_size_limits(value: str) -> dict[str, int]:
    """`CHATKIT_UPLOAD_LIMITS`: "image/*=5MB, application/pdf=20MB, text/csv=0" (bytes, KB
    or MB; 0 refuses the type). Raises ValueError naming a bad entry."""
    limits: dict[str, int] = {}
    for entry in (part for part in re.split(r"[,;]", value) if part.strip()):
        found = _ENTRY.match(entry)
        if not found:
            raise ValueError(f"{entry.strip()!r} is not like image/*=5MB")
        pattern, number, unit = found.group(1).lower(), float(found.group(2)), (found.group(3) or "B").upper()
        limits[pattern] = int(number * {"B": 1, "KB": 1024, "MB": MB}[unit])
    return limits


def size_text(size: int, *, than: int | None = None) -> str:
    """A size as a person reads it ("31 MB", "1.5 MB", "300 KB"), precise enough to differ
    from `than` when it is not equal to it."""
    for digits in (1, 2):
        text = _size(size, digits)
        if than is None or size == than or text != _size(than, digits):
            return text
    return f"{size:,} bytes"


def refused_file(name: str, size: int, mime: str, limits: AttachmentLimits) -> str | None:
    """ "big.pdf: 31 MB is over the 20 MB limit", or None."""
    reason = limits.refusal(size, mime)
    return f"{name}: {reason}" if reason else None


def guessed_type(name: str, mime: str) -> str:
    """A browser's type for a file, or (empty: it did not know) the one its name suggests."""
    if _normal(mime):
        return _normal(mime)
    extension = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    known = [kind for kind, (_, extensions) in SUPPORTED.items() if extension in extensions]
    return known[0] if known else mimetypes.guess_type(name)[0] or ""


def _size(size: int, digits: int) -> str:
    if size >= MB:
        return f"{round(size / MB, digits):g} MB"
    if size >= 1024:
        return f"{round(size / 1024, digits):g} KB"
    return f"{size} bytes"


def _size_for(sizes: object, mime: str, cap: int) -> int:
    """The bytes `sizes` (a number, or a pattern map) give `mime`; `cap` when it says nothing."""
    if isinstance(sizes, int | float) and not isinstance(sizes, bool) and sizes > 0:
        return int(sizes)
    if not isinstance(sizes, Mapping):
        return cap
    key = _match(sizes.keys(), mime)
    value = sizes.get(key) if key is not None else None
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0 else cap


def _match(patterns: Any, mime: str) -> str | None:
    """The most specific of `patterns` that matches `mime`: the type, then "image/*", then "*"."""
    keys: dict[str, str] = {str(p).strip().lower(): p for p in patterns}
    for candidate in (mime, mime.split("/", 1)[0] + "/*", *FALLBACK_KEYS):
        if candidate in keys:
            return keys[candidate]
    return None


def _normal(mime: str) -> str:
    return mime.split(";", 1)[0].strip().lower()
