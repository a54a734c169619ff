"""Per-type attachment limits (ChatKit 1.9's `composer.attachments`): what a workflow and
the site allow, the words a refused file gets, and the option ChatKit's UI is given."""

from __future__ import annotations

import pytest

from chatkit_app.core.attachment_limits import (
    MB,
    SUPPORTED,
    attachment_limits,
    guessed_type,
    parse_size_limits,
    refused_file,
    size_text,
)
from chatkit_app.workflows.registry import Workflow, bind


def _ui(**attachments: object) -> dict[str, object]:
    return {"composer": {"attachments": {"enabled": True, **attachments}}}


def test_no_option_allows_every_supported_type_up_to_the_cap() -> None:
    limits = attachment_limits({}, 10 * MB)
    assert limits.enabled and limits.types == tuple(SUPPORTED)
    assert {size for _, size in limits.sizes} == {10 * MB}
    assert limits.refusal(10 * MB, "application/pdf") is None


def test_the_most_specific_pattern_wins_and_the_cap_bounds_them_all() -> None:
    ui = _ui(maxSize={"image/*": 5 * MB, "image/gif": 1 * MB, "*": 2 * MB, "application/pdf": 50 * MB})
    limits = attachment_limits(ui, 20 * MB)
    assert limits.limit_for("image/png") == 5 * MB
    assert limits.limit_for("image/gif") == 1 * MB
    assert limits.limit_for("text/csv") == 2 * MB  # the "*" fallback
    assert limits.limit_for("application/pdf") == 20 * MB  # never past the server's cap
    assert limits.limit_for("Image/PNG; charset=x") == 5 * MB


def test_accept_and_zero_narrow_the_types_and_site_limits_apply_too() -> None:
    ui = _ui(accept={"image/*": [".png"], "application/pdf": [".pdf"]}, maxSize=8 * MB)
    limits = attachment_limits(ui, 10 * MB, {"application/pdf": 0, "image/*": 3 * MB})
    assert limits.types == ("image/png", "image/jpeg", "image/gif", "image/webp")
    assert limits.limit_for("image/webp") == 3 * MB
    assert limits.limit_for("application/pdf") is None
    assert limits.limit_for("application/x-msdownload") is None


def test_refusals_name_the_file_and_the_limit() -> None:
    limits = attachment_limits(_ui(maxSize={"application/pdf": 20 * MB}), 40 * MB)
    assert refused_file("big.pdf", 31 * MB, "application/pdf", limits) == "big.pdf: 31 MB is over the 20 MB limit"
    assert refused_file("report.exe", 10, "application/x-msdownload", limits) == (
        "report.exe: this type is not allowed (images, PDF, text, CSV, JSON, Markdown)"
    )
    assert refused_file("ok.pdf", 20 * MB, "application/pdf", limits) is None
    off = attachment_limits({"composer": {"attachments": {"enabled": False}}}, MB)
    assert refused_file("a.png", 1, "image/png", off) == "a.png: attachments are off in this chat"


def test_sizes_read_as_a_person_reads_them_and_differ_from_the_limit() -> None:
    assert size_text(31 * MB) == "31 MB"
    assert size_text(int(1.5 * MB)) == "1.5 MB"
    assert size_text(300 * 1024) == "300 KB"
    assert size_text(10 * MB + 300 * 1024, than=10 * MB) == "10.3 MB"
    assert size_text(10 * MB + 10, than=10 * MB) == "10,485,770 bytes"


def test_summary_and_the_browser_keys() -> None:
    limits = attachment_limits(_ui(maxSize={"image/*": 5 * MB, "*": 20 * MB}, maxCount=4), 20 * MB)
    assert limits.summary() == (
        "Images up to 5 MB, PDF up to 20 MB, text up to 20 MB, CSV up to 20 MB, JSON up to 20 MB, "
        "Markdown up to 20 MB; at most 4 files per message"
    )
    keys = limits.by_key()
    assert keys["image/png"] == keys[".jpeg"] == 5 * MB and keys[".md"] == 20 * MB
    assert limits.largest == 20 * MB


def test_a_browsers_empty_type_is_guessed_from_the_name() -> None:
    assert guessed_type("notes.MD", "") == "text/markdown"
    assert guessed_type("x.png", "image/png") == "image/png"
    assert guessed_type("noext", "") == ""


def test_the_chatkit_option_reads_back_to_the_same_limits() -> None:
    limits = attachment_limits(_ui(maxSize={"image/*": MB}, maxCount=3), 10 * MB, {"text/csv": 0})
    option = limits.chatkit_option()
    assert option["enabled"] is True and option["maxCount"] == 3
    assert option["maxSize"]["image/png"] == MB and "text/csv" not in option["accept"]
    assert attachment_limits({"composer": {"attachments": option}}, 10 * MB, {"text/csv": 0}) == limits


def test_an_agent_workflow_offers_its_limits_to_chatkits_ui() -> None:
    workflow = bind(Workflow(id="w", name="W", ui=_ui(maxSize={"image/*": MB})))
    attachments = workflow.ui["composer"]["attachments"]
    assert attachments["maxSize"]["image/gif"] == MB and attachments["accept"]["application/pdf"] == [".pdf"]
    hosted = bind(Workflow(id="wf_x", name="H", mode="hosted", ui={}))
    assert hosted.ui == {}  # OpenAI's uploads, not ours


@pytest.mark.parametrize("value", ["image/*=5MB, application/pdf=20 MB; text/csv=0", "*=1024"])
def test_site_limits_parse(value: str) -> None:
    assert parse_size_limits(value)


def test_site_limits_name_a_bad_entry() -> None:
    parsed = parse_size_limits("image/*=5MB, application/pdf=1.5MB")
    assert parsed == {"image/*": 5 * MB, "application/pdf": int(1.5 * MB)}
    with pytest.raises(ValueError, match="'pdf=5MB'"):
        parse_size_limits("image/*=5MB, pdf=5MB")
