"""model usage per answer (daily model-token quota)

Revision ID: 0006_model_usage
Revises: 0005_site_session
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_model_usage"
down_revision = "0005_site_session"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chatkit_usage",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("thread_id", sa.String(length=128), nullable=True),
        sa.Column("item_id", sa.String(length=128), nullable=True),
        sa.Column("tokens", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_index("ix_chatkit_usage_user_time", "chatkit_usage", ["user_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_chatkit_usage_user_time", table_name="chatkit_usage")
    op.drop_table("chatkit_usage")
