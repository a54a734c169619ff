"""item feedback

Revision ID: 0003_item_feedback
Revises: 0002_chatkit_store
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_item_feedback"
down_revision = "0002_chatkit_store"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chatkit_item") as batch:
        batch.add_column(sa.Column("feedback", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chatkit_item") as batch:
        batch.drop_column("feedback")
