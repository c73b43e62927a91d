"""Single sign-on attempts under way (state digest, PKCE verifier, nonce, where to go after).

Revision ID: 0012_sso_attempts
Revises: 0011_boundary_areas
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_sso_attempts"
down_revision = "0011_boundary_areas"
branch_labels = None
depends_on = None

S = "core"


def upgrade() -> None:
    op.create_table(
        "sso_attempts",
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("next_url", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name="pk_sso_attempts"),
        schema=S,
    )
    op.create_index("ix_core_sso_attempts_created_at", "sso_attempts", ["created_at"], schema=S)


def downgrade() -> None:
    op.drop_table("sso_attempts", schema=S)
