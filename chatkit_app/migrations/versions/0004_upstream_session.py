"""upstream session id (hosted workflows)

Revision ID: 0004_upstream_session
Revises: 0003_item_feedback
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_upstream_session"
down_revision = "0003_item_feedback"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chatkit_session") as batch:
        batch.add_column(sa.Column("upstream_session_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chatkit_session") as batch:
        batch.drop_column("upstream_session_id")
