"""Control room: when a fault began, notes kept once per Idempotency-Key, and footage requests
with their time window, officer, retention date and a version for If-Match updates.

- ``faults.started_at``: when the fault began, when earlier than the report (NULL: at the
  report); downtime counts from it, the SLA from the report.
- ``fault_events.idempotency_key``: a note added to a fault (an event whose status does not
  change) is created once per caller's key, as faults and footage requests are.
- ``footage_requests``: ``window_start``/``window_end`` (the footage asked for), ``officer``
  (who asked), ``retain_until`` (kept as evidence until), ``version`` and ``updated_at``.

Revision ID: 0013_fault_notes_footage_window
Revises: 0012_sso_attempts
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_fault_notes_footage_window"
down_revision = "0012_sso_attempts"
branch_labels = None
depends_on = None

S = "assets"


def upgrade() -> None:
    op.add_column("faults", sa.Column("started_at", sa.DateTime(timezone=True)), schema=S)
    op.create_check_constraint(
        "ck_faults_started_before_report",
        "faults",
        "started_at IS NULL OR started_at <= reported_at",
        schema=S,
    )
    op.add_column("fault_events", sa.Column("idempotency_key", sa.String(300)), schema=S)
    op.create_unique_constraint(
        "uq_fault_events_idempotency_key", "fault_events", ["idempotency_key"], schema=S
    )
    for column in (
        sa.Column("window_start", sa.DateTime(timezone=True)),
        sa.Column("window_end", sa.DateTime(timezone=True)),
        sa.Column("officer", sa.String(200)),
        sa.Column("retain_until", sa.Date()),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
        sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("1")),
    ):
        op.add_column("footage_requests", column, schema=S)
    op.create_check_constraint(
        "ck_footage_requests_window_order",
        "footage_requests",
        "window_start IS NULL OR window_end IS NULL OR window_end > window_start",
        schema=S,
    )


def downgrade() -> None:
    op.drop_constraint(
        "ck_footage_requests_window_order", "footage_requests", type_="check", schema=S
    )
    for name in ("version", "updated_at", "retain_until", "officer", "window_end", "window_start"):
        op.drop_column("footage_requests", name, schema=S)
    op.drop_constraint("uq_fault_events_idempotency_key", "fault_events", type_="unique", schema=S)
    op.drop_column("fault_events", "idempotency_key", schema=S)
    op.drop_constraint("ck_faults_started_before_report", "faults", type_="check", schema=S)
    op.drop_column("faults", "started_at", schema=S)
