"""What the composer says about files it does not attach: pure functions over the
workflow's attachment limits (`core.attachment_limits`), unit-tested apart from the state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chatkit_app.core.attachment_limits import (
    AttachmentLimits,
    attachment_limits,
    guessed_type,
    refused_file,
    size_text,
)
from chatkit_app.settings import Settings

MAX_SHOWN = 8  # refusals listed at once; the rest are counted


@dataclass(frozen=True, slots=True)
class BrowserLimits:
    """What the browser is told (the dropzone's `accept`, `maxSize` and the per-type check)."""

    enabled: bool
    accept: dict[str, list[str]]
    largest: int
    sizes: dict[str, int]  # by MIME type and by extension
    hint: str  # the attach button's tooltip


def limits_of(ui: Mapping[str, Any], settings: Settings) -> AttachmentLimits:
    return attachment_limits(ui, settings.chatkit_max_upload_bytes, settings.upload_size_limits)


def browser_limits(limits: AttachmentLimits, cap: int) -> BrowserLimits:
    """`cap`: the most bytes one upload request may carry (all files of one pick)."""
    enabled = limits.enabled and bool(limits.sizes)
    return BrowserLimits(
        enabled=enabled,
        accept=limits.accept(),
        largest=limits.largest,
        sizes=limits.by_key(),
        hint=f"{limits.summary()}; {size_text(cap)} per pick in all" if enabled else "Attachments are off in this chat",
    )


def browser_refusals(rejections: Iterable[Any], limits: AttachmentLimits) -> list[str]:
    """One line per file the browser refused (react-dropzone's rejections as the page
    sends them: name, size, type, error codes), saying why with the limit."""
    lines = []
    for rejection in rejections:
        if not isinstance(rejection, Mapping):
            continue
        name = str(rejection.get("name") or "file")[:120]
        size = rejection.get("size")
        size = size if isinstance(size, int) and size >= 0 else 0
        mime = guessed_type(name, str(rejection.get("type") or ""))
        codes = rejection.get("codes") or []
        reason = refused_file(name, size, mime, limits)
        if reason is None and "too-many-files" in codes:
            reason = f"{name}: too many files at once"
        lines.append(reason or f"{name}: not attached")
    return bounded(lines)


def over_count(names: list[str], pending: int, limits: AttachmentLimits) -> tuple[list[str], list[str]]:
    """The names that still fit the message's `maxCount` and the lines for those that do not."""
    if not limits.max_count:
        return names, []
    room = max(0, limits.max_count - pending)
    refused = [f"{name}: at most {limits.max_count} files per message" for name in names[room:]]
    return names[:room], refused


def bounded(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_SHOWN:
        return lines
    return [*lines[: MAX_SHOWN - 1], f"… and {len(lines) - MAX_SHOWN + 1} more files not attached"]
