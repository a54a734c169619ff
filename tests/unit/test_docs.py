"""The documentation holds together: the README stays a front door (at most 8 KB), every
relative link in README.md and docs/*.md reaches a file of the repository and every
`#anchor` a heading of the file it names (GitHub's slugs), every setting is in
docs/configuration.md, and code and tests cite only the project's own docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chatkit_app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README_MAX_BYTES = 8192
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) and ![alt](target); text may hold one level of brackets, target a title.
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")


def _prose_lines(text: str) -> list[str]:
    """The lines outside fenced code blocks."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text as rendered (code, emphasis and link
    markup gone), lowercased, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link: its text
    parts = re.split(r"(`+[^`]*`+)", text)  # code spans keep their text as written
    text = "".join(
        part.strip("`") if part.startswith("`") else re.sub(r"(\*+|(?<!\w)_+|_+(?!\w))|<[^>]+>", "", part)
        for part in parts
    )
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor in a markdown file, repeats numbered as GitHub does."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for line in _prose_lines(path.read_text()):
        match = _HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    """The targets of the markdown links and images in a file (code left out)."""
    targets: list[str] = []
    for line in _prose_lines(path.read_text()):
        targets.extend(_LINK.findall(_CODE_SPAN.sub("", line)))
    return targets


def _is_external(target: str) -> bool:
    return bool(re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target)) or target.startswith("//")


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Each relative link of `path` that names no file of `root`, or no heading of a
    markdown file."""
    broken = []
    for target in links(path):
        if _is_external(target):
            continue
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if not destination.exists() or root not in (destination, *destination.parents):
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target}: no heading #{anchor} in {destination.relative_to(root)}")
    return broken


def test_the_readme_is_a_front_door() -> None:
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; move the detail to docs/"


@pytest.mark.parametrize("path", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path) -> None:
    assert links(path), "no links found: the parser is broken"  # each of these files links somewhere
    assert broken_links(path) == []


def test_the_link_checker_finds_what_is_broken(tmp_path: Path) -> None:
    """The checker itself: a missing file or heading, a file outside the repository, and
    what must pass (repeated headings, code, external URLs)."""
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "outside.md").write_text("# Outside\n")
    (root / "other.md").write_text("# Who may enter: `CHATKIT_AUTH`\n\n## Limits\n\n## Limits\n")
    page = root / "page.md"
    page.write_text(
        "# Page\n\n## Hosted workflows (Agent Builder, `wf_...`)\n\n"
        "[a](other.md#who-may-enter-chatkit_auth) [b](other.md#limits-1) ![c](other.md)\n"
        "[d](#hosted-workflows-agent-builder-wf_) [e](https://example.com/x#y) `[f](nowhere.md)`\n"
        "```\n[g](nowhere.md)\n```\n"
        "[h](missing.md) [i](other.md#limits-2) [j](#page-1) [k](../outside.md)\n"
    )
    found = [item.split(":")[0] for item in broken_links(page, root=root.resolve())]
    assert found == ["missing.md", "other.md#limits-2", "#page-1", "../outside.md"]


def test_github_slugs() -> None:
    assert slug("The ChatKit protocol: `POST /api/chatkit`") == "the-chatkit-protocol-post-apichatkit"
    assert slug("Hosted workflows (Agent Builder, `wf_...`)") == "hosted-workflows-agent-builder-wf_"
    assert slug("Health, metrics and logs") == "health-metrics-and-logs"
    assert slug("**Bold** and [a link](x.md)") == "bold-and-a-link"


def test_every_setting_is_documented() -> None:
    configuration = (ROOT / "docs" / "configuration.md").read_text()
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in configuration]
    assert missing == []


def test_code_cites_only_the_projects_own_docs() -> None:
    """A design file outside the repository is no citation: a clone does not contain it."""
    outside = ("DESIGN" + ".md").encode()
    citing = [
        str(path.relative_to(ROOT))
        for folder in ("chatkit_app", "tests", "bench")
        for path in sorted((ROOT / folder).rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts and outside in path.read_bytes()
    ]
    assert citing == []
