"""SQLModel tables. Times are integers (UTC) so SQLite and Postgres agree: Unix seconds for
sessions, microseconds for the ChatKit store tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Identity, Index, String, Text, false
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
    # Hosted workflows only: OpenAI's id of the live upstream session, so refresh and revoke
    # can cancel it. Its client secret is never stored.
    upstream_session_id: str | None = Field(default=None, max_length=128)


# --- ChatKit store (chatkit_app.chatkit_server.store) -------------------------------------
# These tables keep `created_at` in integer microseconds since the Unix epoch (UTC) and a
# database-generated `seq` that breaks ties, so (created_at, seq) is a total, stable order.
# `data` is the pydantic model dumped with mode="json"; the other columns are for querying.


class ChatKitThread(SQLModel, table=True):
    __tablename__ = "chatkit_thread"
    __table_args__ = (Index("ix_chatkit_thread_user_order", "user_id", "created_at", "seq"),)

    id: str = Field(primary_key=True, max_length=128)
    user_id: str = Field(max_length=128)  # indexed as the leading column of ix_chatkit_thread_user_order
    # The workflow the thread was made in (its history and agent); None: made before this was kept.
    workflow_id: str | None = Field(default=None, max_length=128)
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    seq: int = Field(sa_column=Column(BigInteger, Identity(), nullable=False))
    title: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class ChatKitItem(SQLModel, table=True):
    __tablename__ = "chatkit_item"
    __table_args__ = (Index("ix_chatkit_item_thread_order", "thread_id", "created_at", "seq"),)

    id: str = Field(primary_key=True, max_length=128)
    thread_id: str = Field(
        sa_column=Column(
            String(128),
            ForeignKey("chatkit_thread.id", ondelete="CASCADE", name="fk_chatkit_item_thread_id"),
            nullable=False,
        )
    )
    user_id: str = Field(index=True, max_length=128)
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    seq: int = Field(sa_column=Column(BigInteger, Identity(), nullable=False))
    type: str = Field(max_length=64)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # "positive" / "negative" from the ChatKit feedback buttons, or None.
    feedback: str | None = Field(default=None, max_length=16)


class ChatKitAttachment(SQLModel, table=True):
    __tablename__ = "chatkit_attachment"

    id: str = Field(primary_key=True, max_length=128)
    user_id: str = Field(index=True, max_length=128)
    thread_id: str | None = Field(default=None, index=True, max_length=128)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # File bytes live on disk under `storage_name` (set once the upload completed).
    storage_name: str | None = Field(default=None, max_length=255)
    size: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    uploaded: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))


class SiteSession(SQLModel, table=True):
    """A signed-in visitor (CHATKIT_AUTH=oidc). The cookie holds a random secret; only its
    SHA-256 is stored, so a database leak does not hand out live sign-ins."""

    __tablename__ = "chatkit_site_session"

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of the cookie's secret
    user_id: str = Field(index=True, max_length=128)
    email: str | None = Field(default=None, max_length=320)
    name: str | None = Field(default=None, max_length=200)
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    last_seen_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    absolute_expires_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    revoked_at: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))


class ModelUsage(SQLModel, table=True):
    """Tokens one answer cost, as the model reported them: the daily model-token quota
    is the sum of a user's rows over the last 24 hours (chatkit_app/limits/ledger.py).
    Rows older than that window are swept; `created_at` is Unix seconds."""

    __tablename__ = "chatkit_usage"
    __table_args__ = (Index("ix_chatkit_usage_user_time", "user_id", "created_at"),)

    id: str = Field(primary_key=True, max_length=64)
    user_id: str = Field(max_length=128)  # leading column of ix_chatkit_usage_user_time
    thread_id: str | None = Field(default=None, max_length=128)
    item_id: str | None = Field(default=None, max_length=128)
    tokens: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
