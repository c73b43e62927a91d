"""Surface runs carry a lease: the worker computing a run holds it and renews it while alive.

A redelivered task (the first worker was killed) takes over a "running" run whose lease has
expired and computes it again; the beat sweep re-queues such runs instead of failing them.

Revision ID: 0009_surface_run_leases
Revises: 0008_unique_token_names
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_surface_run_leases"
down_revision = "0008_unique_token_names"
branch_labels = None
depends_on = None

S = "hotspots"


def upgrade() -> None:
    op.add_column("surface_runs", sa.Column("lease_owner", sa.String(length=120)), schema=S)
    op.add_column("surface_runs", sa.Column("lease_until", sa.DateTime(timezone=True)), schema=S)
    op.add_column(
        "surface_runs",
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        schema=S,
    )


def downgrade() -> None:
    for col in ("attempts", "lease_until", "lease_owner"):
        op.drop_column("surface_runs", col, schema=S)
