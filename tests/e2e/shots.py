"""The screenshots in docs/, taken by the browser tests where they reach the view each one
shows: run them with `CHATKIT_SCREENSHOT_DIR=docs/screenshots` (else nothing is written).
`shot(page, name)` writes `<name>.png`; `shots(page, name)` writes `<name>-light.png` and
`<name>-dark.png`, switching the page's colour scheme as the visitor's system would (the
chat follows it live)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def shot(page: Any, name: str) -> None:
    folder = os.environ.get("CHATKIT_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / f"{name}.png"))


def shots(page: Any, name: str) -> None:
    if not os.environ.get("CHATKIT_SCREENSHOT_DIR"):
        return
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.wait_for_function("scheme => document.documentElement.classList.contains(scheme)", arg=scheme)
        shot(page, f"{name}-{scheme}")
    page.emulate_media(color_scheme=None)
