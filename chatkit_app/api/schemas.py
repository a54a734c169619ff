"""Wire shapes of the session API (camelCase, as in the ChatKit world)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from chatkit_app.auth.sessions import IssuedSession, SessionInfo

CHATKIT_API_PATH = "/api/chatkit"


class CreateSessionBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    user_id: str = Field(alias="userId")
    workflow_id: str | None = Field(default=None, alias="workflowId")
    metadata: dict[str, Any] | None = None


def iso_utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def session_object(issued: IssuedSession) -> dict[str, Any]:
    """Self-hosted sessions name our ChatKit endpoint; hosted ones carry OpenAI's fresh
    client secret instead (the browser talks to OpenAI with it)."""
    chatkit: dict[str, Any]
    if issued.mode == "hosted":
        chatkit = {"mode": "hosted", "clientSecret": issued.client_secret}
    else:
        chatkit = {"mode": "self-hosted", "apiUrl": CHATKIT_API_PATH}
    return {
        "sessionId": issued.session_id,
        "token": issued.token,
        "tokenType": "Bearer",
        "expiresAt": iso_utc(issued.expires_at),
        "expiresIn": issued.expires_in,
        "userId": issued.user_id,
        "workflowId": issued.workflow_id,
        "metadata": issued.metadata,
        "chatkit": chatkit,
    }


def validation_object(info: SessionInfo) -> dict[str, Any]:
    return {
        "valid": True,
        "sessionId": info.session_id,
        "userId": info.user_id,
        "workflowId": info.workflow_id,
        "expiresAt": iso_utc(info.expires_at),
    }
