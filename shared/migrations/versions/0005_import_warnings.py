"""Incident imports keep the file-level warnings (decoding, formula cells, repeated ids).

Revision ID: 0005_import_warnings
Revises: 0004_predictive
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_import_warnings"
down_revision = "0004_predictive"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "imports",
        sa.Column(
            "warnings",
            postgresql.JSONB(),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        schema="incidents",
    )


def downgrade() -> None:
    op.drop_column("imports", "warnings", schema="incidents")
