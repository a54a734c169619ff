"""The few plain HTML pages of sign-in (they must work without the app's JavaScript)."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:34rem;margin:12vh auto;padding:0 1.5rem;line-height:1.5;"
    "color:#1c2024;background:#fff}@media(prefers-color-scheme:dark){body{color:#edeef0;background:#111113}"
    "a{color:#70b8ff}}h1{font-size:1.4rem}a{color:#0d74ce}"
    "button{font:inherit;padding:.5rem 1.1rem;border:0;border-radius:.5rem;background:#0d74ce;color:#fff;"
    "cursor:pointer}"
)


def page(
    title: str,
    message: str,
    *,
    link: tuple[str, str] | None = None,
    form: tuple[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """`link` = (href, text); `form` = (action, button text) posted to this site."""
    action = ""
    if form:
        action += (
            f'<form method="post" action="{escape(form[0])}"><button type="submit" '
            f'data-testid="auth-submit">{escape(form[1])}</button></form>'
        )
    if link:
        action += f'<p><a href="{escape(link[0])}">{escape(link[1])}</a></p>'
    body = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
        f'content="width=device-width,initial-scale=1"><title>{escape(title)}</title><style>{_STYLE}</style></head>'
        f'<body><h1 data-testid="auth-title">{escape(title)}</h1><p data-testid="auth-message">{escape(message)}</p>'
        f"{action}</body></html>"
    )
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
