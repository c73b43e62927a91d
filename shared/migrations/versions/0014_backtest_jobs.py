"""Predictive: backtest jobs run from the browser or the API (issue #14 item 6).

``backtest_jobs``: one rolling-origin backtest of an agency over a period of origin days, run in
the background: its status, how many origin days are done of how many, the request (methods,
boxes, area shares, horizon, step, cell), the results (table of methods, hit-rate curves, boxes
per ward), the plot (PNG), who asked, and the caller's Idempotency-Key (a digest, unique).

Revision ID: 0014_backtest_jobs
Revises: 0013_fault_notes_footage_window
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014_backtest_jobs"
down_revision = "0013_fault_notes_footage_window"
branch_labels = None
depends_on = None

S = "predictive"
# As services.predictive.models.BacktestStatus (a migration never imports the app's code).
STATUSES = ("queued", "running", "done", "failed")


def upgrade() -> None:
    op.create_table(
        "backtest_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("date_from", sa.Date(), nullable=False),
        sa.Column("date_to", sa.Date(), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        sa.Column("origins_total", sa.Integer(), nullable=False),
        sa.Column("origins_done", sa.Integer(), nullable=False),
        sa.Column("results", postgresql.JSONB(), nullable=True),
        sa.Column("plot_png", sa.LargeBinary(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(240), nullable=False),
        sa.Column("idempotency_key", sa.String(300), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_backtest_jobs"),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            [f"{S}.agencies.id"],
            name="fk_backtest_jobs_agency_id_agencies",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("idempotency_key", name="uq_backtest_jobs_idempotency_key"),
        sa.CheckConstraint(
            "status IN (" + ",".join(f"'{s}'" for s in STATUSES) + ")",
            name="ck_backtest_jobs_status",
        ),
        sa.CheckConstraint("date_from <= date_to", name="ck_backtest_jobs_period"),
        sa.CheckConstraint(
            "origins_done BETWEEN 0 AND origins_total", name="ck_backtest_jobs_origins_done"
        ),
        schema=S,
    )
    op.create_index(
        "ix_backtest_jobs_agency_id_created_at",
        "backtest_jobs",
        ["agency_id", "created_at"],
        schema=S,
    )


def downgrade() -> None:
    op.drop_index("ix_backtest_jobs_agency_id_created_at", "backtest_jobs", schema=S)
    op.drop_table("backtest_jobs", schema=S)
