"""The native composer's words for files it does not attach, and what the browser is
told of the limits (pure functions; the browser test drives them end to end)."""

from __future__ import annotations

from chatkit_app.core.attachment_limits import MB, attachment_limits
from chatkit_app.ui.native.attach_rules import MAX_SHOWN, browser_limits, browser_refusals, over_count

LIMITS = attachment_limits({"composer": {"attachments": {"enabled": True, "maxSize": {"image/*": MB}}}}, 4 * MB)


def test_browser_rejections_become_one_line_each_with_the_limit() -> None:
    rejections = [
        {"name": "big.png", "size": 3 * MB, "type": "image/png", "codes": ["file-too-large"]},
        {"name": "report.exe", "size": 10, "type": "application/x-msdownload", "codes": ["file-invalid-type"]},
        {"name": "notes.md", "size": 5 * MB, "type": "", "codes": ["file-too-large"]},  # no type: by its name
        {"name": "a.png", "size": 10, "type": "image/png", "codes": ["too-many-files"]},
        {"name": "b.png", "size": 10, "type": "image/png", "codes": []},
        "not a rejection",
    ]
    assert browser_refusals(rejections, LIMITS) == [
        "big.png: 3 MB is over the 1 MB limit",
        "report.exe: this type is not allowed (images, PDF, text, CSV, JSON, Markdown)",
        "notes.md: 5 MB is over the 4 MB limit",
        "a.png: too many files at once",
        "b.png: not attached",
    ]


def test_many_refusals_are_counted_past_a_few() -> None:
    rejections = [{"name": f"f{n}.exe", "size": 1, "type": "application/x-msdownload"} for n in range(20)]
    lines = browser_refusals(rejections, LIMITS)
    assert len(lines) == MAX_SHOWN and lines[-1] == f"… and {20 - MAX_SHOWN + 1} more files not attached"


def test_a_message_takes_at_most_max_count_files() -> None:
    limits = attachment_limits({"composer": {"attachments": {"enabled": True, "maxCount": 3}}}, MB)
    assert over_count(["a", "b", "c"], 1, limits) == (["a", "b"], ["c: at most 3 files per message"])
    assert over_count(["a"], 0, LIMITS) == (["a"], [])


def test_what_the_browser_is_told() -> None:
    shown = browser_limits(LIMITS, 4 * MB)
    assert shown.enabled and shown.largest == 4 * MB
    assert shown.sizes["image/gif"] == MB and shown.sizes[".pdf"] == 4 * MB
    assert shown.accept["text/markdown"] == [".md", ".markdown"]
    assert shown.hint.startswith("Images up to 1 MB, PDF up to 4 MB") and shown.hint.endswith("4 MB per pick in all")
    off = browser_limits(attachment_limits({"composer": {"attachments": {"enabled": False}}}, MB), MB)
    assert not off.enabled and off.hint == "Attachments are off in this chat"
