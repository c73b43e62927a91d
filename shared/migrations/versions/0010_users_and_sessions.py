"""People's accounts and their server-side sessions (one store for the three services).

Revision ID: 0010_users_and_sessions
Revises: 0009_surface_run_leases
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_users_and_sessions"
down_revision = "0009_surface_run_leases"
branch_labels = None
depends_on = None

S = "core"


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("full_name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("agency_code", sa.String(20)),
        sa.Column("password_hash", sa.String(200)),
        sa.Column("sso_issuer", sa.String(300)),
        sa.Column("sso_subject", sa.String(300)),
        sa.Column("failed_sign_ins", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True)),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.CheckConstraint(
            "role IN ('operator','seg','crew','analyst','admin')", name="ck_users_role"
        ),
        schema=S,
    )
    op.create_index(
        "uq_users_username", "users", [sa.text("lower(username)")], unique=True, schema=S
    )
    op.create_index("uq_users_sso", "users", ["sso_issuer", "sso_subject"], unique=True, schema=S)
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(64), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("via", sa.String(10), nullable=False),
        sa.PrimaryKeyConstraint("id_hash", name="pk_web_sessions"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["core.users.id"],
            name="fk_web_sessions_user_id_users",
            ondelete="CASCADE",
        ),
        schema=S,
    )
    op.create_index("ix_core_web_sessions_user_id", "web_sessions", ["user_id"], schema=S)


def downgrade() -> None:
    op.drop_table("web_sessions", schema=S)
    op.drop_table("users", schema=S)
