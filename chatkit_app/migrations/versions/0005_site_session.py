"""site sessions (CHATKIT_AUTH=oidc)

Revision ID: 0005_site_session
Revises: 0004_upstream_session
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_site_session"
down_revision = "0004_upstream_session"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chatkit_site_session",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("user_id", sa.String(length=128), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_at", sa.BigInteger(), nullable=False),
        sa.Column("absolute_expires_at", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_chatkit_site_session_user_id", "chatkit_site_session", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_chatkit_site_session_user_id", table_name="chatkit_site_session")
    op.drop_table("chatkit_site_session")
