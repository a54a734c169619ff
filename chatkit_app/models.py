"""SQLModel tables. Times are integer Unix seconds (UTC) so SQLite and Postgres agree."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Column
from sqlmodel import Field, SQLModel


class ChatSession(SQLModel, table=True):
    __tablename__ = "chatkit_session"

    id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(index=True, max_length=128)
    workflow_id: str = Field(max_length=128)
    # `metadata` is reserved by SQLAlchemy's declarative base, hence the attribute name.
    session_metadata: dict[str, Any] = Field(default_factory=dict, sa_column=Column("metadata", JSON, nullable=False))
    current_jti: str = Field(max_length=64)
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    token_expires_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    absolute_expires_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    refreshed_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    refresh_count: int = Field(default=0)
    revoked_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    revoked_reason: str | None = Field(default=None, max_length=64)
