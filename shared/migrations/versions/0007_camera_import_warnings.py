"""Camera register imports keep their file-level warnings (e.g. decoded as cp1252).

Revision ID: 0007_camera_import_warnings
Revises: 0006_idempotency_keys
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007_camera_import_warnings"
down_revision = "0006_idempotency_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "imports",
        sa.Column(
            "warnings", postgresql.JSONB(), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        schema="assets",
    )


def downgrade() -> None:
    op.drop_column("imports", "warnings", schema="assets")
