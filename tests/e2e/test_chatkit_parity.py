"""ChatKit 1.9's `commands` and the `entities` callbacks through `chatkit_widget`, with the
stub element calling them as ChatKit does: the commands come from the workflow's config,
picking one answers as ChatKit's `onSelect` expects (a sub-menu, a tag, or the prompt sent
as a message), and tag search and previews are answered by the page's Python functions
(`topic_search`, `topic_preview`) for the signed-in user."""

from __future__ import annotations

from typing import Any

import httpx

from chatkit_app.services import get_services
from tests.e2e.test_chatkit_widget import _open_chat, _session_id, _stub


def _call(page: Any, method: str, argument: Any) -> Any:
    return page.evaluate(
        "([method, argument]) => document.querySelector('openai-chatkit')[method](argument)", [method, argument]
    )


def test_commands_reach_chatkit_and_picking_one_does_what_its_config_says(site: Any, browser: Any) -> None:
    page = _open_chat(site, browser)
    try:
        assert _stub(page, "options.commands.enabled") is True
        found = _call(page, "searchCommands", "")
        assert [c["label"] for c in found] == ["Ask me questions", "Tools demo", "Show a widget", "Topic"]
        assert found[0] == {
            "id": "ask",
            "label": "Ask me questions",
            "description": "One choice, several choices, free text",
            "icon": "circle-question",
        }, "ChatKit is shown the command, not what it does"
        assert [c["id"] for c in _call(page, "searchCommands", "WIDG")] == ["widget"]

        menu = _call(page, "selectCommand", {"id": "topic", "label": "Topic"})
        assert menu == {
            "type": "menu",
            "commands": [{"id": "topic-billing", "label": "Billing"}, {"id": "topic-support", "label": "Support"}],
        }
        tag = _call(page, "selectCommand", {"id": "topic-support", "label": "Support"})
        assert tag["type"] == "entity" and tag["entity"]["title"] == "Support"
        assert tag["entity"]["data"] == {"topic": "support"}

        assert _call(page, "selectCommand", {"id": "ask", "label": "Ask me questions"}) is None
        page.wait_for_function(
            "() => window.__chatkitStub.calls.some(c => c.method === 'sendUserMessage' && c.params.text === 'ask me')"
        )
        # The pick reached Python too (`on_command`).
        page.locator('[data-testid="chat-area"][data-command="ask"]').wait_for(timeout=15_000)
    finally:
        page.close()


def test_tag_search_and_previews_are_answered_by_python_for_the_signed_in_user(site: Any, browser: Any) -> None:
    page = _open_chat(site, browser)
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.headers.get("authorization", "")) if "/entities" in r.url else None)
    try:
        found = _call(page, "searchTags", "sup")
        assert found == [
            {
                "id": "topic-support",
                "title": "Support",
                "group": "Topics",
                "interactive": True,
                "data": {"topic": "support"},
            }
        ]
        assert [e["title"] for e in _call(page, "searchTags", "")] == ["Billing", "Support", "Docs"]

        assert sent and all(auth.startswith("Bearer ") for auth in sent)  # the session's token, refreshed on 401
        user_id = get_services().sessions._get(_session_id(sent[0])).user_id
        answer = _call(page, "previewEntity", found[0])
        preview = answer["preview"]
        assert preview["type"] == "Basic"
        assert [c["value"] for c in preview["children"]] == [
            "Support",
            "Messages tagged Support reach that team.",
            f"Preview for {user_id}",
        ]
        assert _call(page, "previewEntity", {"id": "elsewhere", "title": "Nope"}) == {"preview": None}
        assert len(_stub(page, "previews")) == 2

        # The route answers only a session's holder, and only the page's own handlers.
        backend = page.evaluate("() => new URL(window.__chatkitStub.options.api.url).origin")
        body = {"handler": "chatkit_app.ui.chat_state.topic_preview", "op": "preview", "entity": found[0]}
        assert httpx.post(f"{backend}/api/chatkit/entities", json=body).status_code == 401
    finally:
        page.close()
