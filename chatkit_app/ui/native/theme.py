"""ChatKit's theme options, applied to the native UI: the same configuration gives the
same look. Radix Themes draws with CSS variables, so the accent colour, the corner radius
and the density become variables on the native chat's root, and the colour scheme its
`light-theme` / `dark-theme` class (unset: the visitor's system setting)."""

from __future__ import annotations

import re
from typing import Any

RADIUS_FACTOR = {"sharp": "0", "soft": "0.75", "round": "1.5", "pill": "2"}
SCALING = {"compact": "0.95", "normal": "1", "spacious": "1.05"}
CSS_COLOR = re.compile(r"^(#[0-9A-Fa-f]{3,8}|rgba?\([0-9., %]+\)|hsla?\([0-9., %deg]+\)|[a-z]{3,20})$")


def color_scheme(theme: object) -> str:
    """ "light", "dark", or "" (follow the system)."""
    scheme = theme if isinstance(theme, str) else theme.get("colorScheme") if isinstance(theme, dict) else None
    return scheme if scheme in ("light", "dark") else ""


def theme_style(theme: object) -> dict[str, str]:
    """CSS variables for the native chat's root from ChatKit's `theme` option."""
    if not isinstance(theme, dict):
        return {}
    style: dict[str, str] = {}
    accent = _get(theme, "color", "accent", "primary")
    if isinstance(accent, str) and CSS_COLOR.match(accent.strip()):
        color = accent.strip()
        style.update(
            {
                "--accent-9": color,
                "--accent-10": f"color-mix(in srgb, {color} 88%, black)",
                "--accent-11": color,
                "--accent-a3": f"color-mix(in srgb, {color} 14%, transparent)",
                "--accent-a4": f"color-mix(in srgb, {color} 20%, transparent)",
                "--accent-a11": color,
                "--focus-8": color,
            }
        )
    radius = RADIUS_FACTOR.get(str(theme.get("radius")))
    if radius is not None:
        style["--radius-factor"] = radius
    scaling = SCALING.get(str(theme.get("density")))
    if scaling is not None:
        style["--scaling"] = scaling
    return style


def _get(value: Any, *path: str) -> Any:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value
