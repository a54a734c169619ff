"""The entities picked from the "/" menu, as the message's ChatKit `input_tag` contents:
the menu (`command_menu.jsx`) sends them in the composer form's hidden `tags` field."""

from __future__ import annotations

import json
from typing import Any

TAGS_FIELD = "tags"
MAX_TAGS = 10
_TAG_TEXT = 200


def message_tags(value: Any) -> list[dict[str, Any]]:
    """The form's `tags` field as ChatKit's `input_tag` contents (the entities picked from
    the menu); anything malformed is dropped, never sent."""
    if not isinstance(value, str) or not value:
        return []
    try:
        entities = json.loads(value)
    except ValueError:
        return []
    tags: list[dict[str, Any]] = []
    for entity in entities if isinstance(entities, list) else []:
        if not isinstance(entity, dict) or not entity.get("id") or not entity.get("title"):
            continue
        data = entity.get("data")
        tag: dict[str, Any] = {
            "type": "input_tag",
            "id": str(entity["id"])[:_TAG_TEXT],
            "text": str(entity["title"])[:_TAG_TEXT],
            "data": {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {},
            "interactive": bool(entity.get("interactive", False)),
        }
        if entity.get("group"):
            tag["group"] = str(entity["group"])[:_TAG_TEXT]
        tags.append(tag)
    return tags[:MAX_TAGS]
