"""threads remember the workflow they were made in

Revision ID: 0007_thread_workflow
Revises: 0006_model_usage
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_thread_workflow"
down_revision = "0006_model_usage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: threads from before are shown in every workflow of their user.
    op.add_column("chatkit_thread", sa.Column("workflow_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chatkit_thread") as batch:
        batch.drop_column("workflow_id")
