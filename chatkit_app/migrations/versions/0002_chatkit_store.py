"""chatkit store: threads, items, attachments

Revision ID: 0002_chatkit_store
Revises: 0001_sessions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_chatkit_store"
down_revision = "0001_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chatkit_thread",
        sa.Column("id", sa.String(length=128), primary_key=True),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_chatkit_thread_user_order", "chatkit_thread", ["user_id", "created_at", "seq"])

    op.create_table(
        "chatkit_item",
        sa.Column("id", sa.String(length=128), primary_key=True),
        sa.Column("thread_id", sa.String(length=128), nullable=False),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["chatkit_thread.id"], name="fk_chatkit_item_thread_id", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_chatkit_item_thread_order", "chatkit_item", ["thread_id", "created_at", "seq"])
    op.create_index("ix_chatkit_item_user_id", "chatkit_item", ["user_id"])

    op.create_table(
        "chatkit_attachment",
        sa.Column("id", sa.String(length=128), primary_key=True),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("thread_id", sa.String(length=128), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("storage_name", sa.String(length=255), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("uploaded", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_chatkit_attachment_user_id", "chatkit_attachment", ["user_id"])
    op.create_index("ix_chatkit_attachment_thread_id", "chatkit_attachment", ["thread_id"])


def downgrade() -> None:
    op.drop_index("ix_chatkit_attachment_thread_id", table_name="chatkit_attachment")
    op.drop_index("ix_chatkit_attachment_user_id", table_name="chatkit_attachment")
    op.drop_table("chatkit_attachment")
    op.drop_index("ix_chatkit_item_user_id", table_name="chatkit_item")
    op.drop_index("ix_chatkit_item_thread_order", table_name="chatkit_item")
    op.drop_table("chatkit_item")
    op.drop_index("ix_chatkit_thread_user_order", table_name="chatkit_thread")
    op.drop_table("chatkit_thread")
