"""Assets: when and how each SEG decision takes effect (scheduled changes), pairs, retries.

``decision_effects`` (one row per decision): the day it takes effect on its camera
(``effective_on``), whether it has (``applied``, ``applied_at``) or waits for that day
(``scheduled``: a replacement or relocation decided ahead of the works) or ``lapsed`` (its day
came but the camera no longer allowed it), the other camera of a
redundant pair decided together (``related_camera_id``), the recommendation it answers
(action and rule), and the caller's Idempotency-Key digest (unique) so a retried POST records
one decision. At most one scheduled change per camera (partial unique index). Decisions
recorded before this revision took effect on their meeting day: backfilled as applied.

Revision ID: 0016_decision_effects
Revises: 0015_hotspot_comparisons
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0016_decision_effects"
down_revision = "0015_hotspot_comparisons"
branch_labels = None
depends_on = None

S = "assets"
# As services.assets.lifecycle.DecisionStatus (a migration never imports the app's code);
# lapsed: its day came but the camera no longer allowed it.
STATUSES = ("scheduled", "applied", "lapsed")


def upgrade() -> None:
    op.create_table(
        "decision_effects",
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("effective_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("related_camera_id", sa.Integer(), nullable=True),
        sa.Column("recommendation", postgresql.JSONB(), nullable=True),
        sa.Column("idempotency_key", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("decision_id", name="pk_decision_effects"),
        sa.ForeignKeyConstraint(
            ["decision_id"],
            [f"{S}.decisions.id"],
            name="fk_decision_effects_decision_id_decisions",
        ),
        sa.ForeignKeyConstraint(
            ["camera_id"], [f"{S}.cameras.id"], name="fk_decision_effects_camera_id_cameras"
        ),
        sa.ForeignKeyConstraint(
            ["related_camera_id"],
            [f"{S}.cameras.id"],
            name="fk_decision_effects_related_camera_id_cameras",
        ),
        sa.UniqueConstraint("idempotency_key", name="uq_decision_effects_idempotency_key"),
        sa.CheckConstraint(
            "status IN (" + ",".join(f"'{s}'" for s in STATUSES) + ")",
            name="ck_decision_effects_status",
        ),
        sa.CheckConstraint(
            "(status = 'applied') = (applied_at IS NOT NULL)",
            name="ck_decision_effects_applied_at",
        ),
        schema=S,
    )
    op.create_index("ix_decision_effects_camera_id", "decision_effects", ["camera_id"], schema=S)
    op.create_index(
        "ix_decision_effects_status_effective_on",
        "decision_effects",
        ["status", "effective_on"],
        schema=S,
    )
    op.create_index(
        "uq_decision_effects_one_scheduled",
        "decision_effects",
        ["camera_id"],
        unique=True,
        schema=S,
        postgresql_where=sa.text("status = 'scheduled'"),
    )
    op.execute(
        f"INSERT INTO {S}.decision_effects (decision_id, camera_id, effective_on, status, "
        f"applied_at) SELECT id, camera_id, meeting_date, 'applied', created_at "
        f"FROM {S}.decisions"
    )


def downgrade() -> None:
    op.drop_index("uq_decision_effects_one_scheduled", "decision_effects", schema=S)
    op.drop_index("ix_decision_effects_status_effective_on", "decision_effects", schema=S)
    op.drop_index("ix_decision_effects_camera_id", "decision_effects", schema=S)
    op.drop_table("decision_effects", schema=S)
