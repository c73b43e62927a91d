"""Assets: camera health from the cameras themselves (issue #16).

``camera_streams`` (one row per digital camera that has one): RTSP and ONVIF addresses, the
user name and the password as a Fernet token (never plain), the reference view as ORB features,
the sharpness baseline, the last check's result, thumbnail fingerprint and measurement, passes
and failures in a row, the open fault the checks opened, and a worker's claim.
``camera_health_checks``: one row per check (result, measurement, duration).
``camera_health_snapshots``: frames kept as fault evidence (personal data, ``expires_at``).

Revision ID: 0017_camera_health
Revises: 0016_decision_effects
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017_camera_health"
down_revision = "0016_decision_effects"
branch_labels = None
depends_on = None

S = "assets"
# As services.assets.health.causes.Cause (a migration never imports the app's code).
CAUSES = (
    "ok",
    "refused",
    "timed_out",
    "auth_failed",
    "no_stream",
    "no_picture",
    "frozen",
    "obscured",
    "view_moved",
)
IN_CAUSES = ",".join(f"'{c}'" for c in CAUSES)


def upgrade() -> None:
    op.create_table(
        "camera_streams",
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("rtsp_url", sa.Text(), nullable=False),
        sa.Column("onvif_url", sa.Text(), nullable=True),
        sa.Column("username", sa.String(200), nullable=True),
        sa.Column("password_encrypted", sa.Text(), nullable=True),
        sa.Column("reference_features", sa.LargeBinary(), nullable=True),
        sa.Column("reference_set_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reference_set_by", sa.String(200), nullable=True),
        sa.Column("sharpness_baseline", sa.Float(), nullable=True),
        sa.Column("last_fingerprint", sa.LargeBinary(), nullable=True),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_result", sa.String(20), nullable=True),
        sa.Column("last_measurement", postgresql.JSONB(), nullable=True),
        sa.Column("consecutive_passes", sa.Integer(), server_default="0", nullable=False),
        sa.Column("consecutive_failures", sa.Integer(), server_default="0", nullable=False),
        sa.Column("fault_id", sa.Integer(), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("camera_id", name="pk_camera_streams"),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            [f"{S}.cameras.id"],
            name="fk_camera_streams_camera_id_cameras",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["fault_id"],
            [f"{S}.faults.id"],
            name="fk_camera_streams_fault_id_faults",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(
            f"last_result IS NULL OR last_result IN ({IN_CAUSES})",
            name="ck_camera_streams_last_result",
        ),
        sa.CheckConstraint(
            "consecutive_passes >= 0 AND consecutive_failures >= 0",
            name="ck_camera_streams_counts",
        ),
        schema=S,
    )
    op.create_table(
        "camera_health_checks",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("result", sa.String(20), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("measurement", postgresql.JSONB(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("fault_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_camera_health_checks"),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            [f"{S}.cameras.id"],
            name="fk_camera_health_checks_camera_id_cameras",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["fault_id"],
            [f"{S}.faults.id"],
            name="fk_camera_health_checks_fault_id_faults",
            ondelete="SET NULL",
        ),
        sa.CheckConstraint(f"result IN ({IN_CAUSES})", name="ck_camera_health_checks_result"),
        schema=S,
    )
    op.create_index(
        "ix_camera_health_checks_camera_id_checked_at",
        "camera_health_checks",
        ["camera_id", "checked_at"],
        schema=S,
    )
    op.create_table(
        "camera_health_snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("fault_id", sa.Integer(), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cause", sa.String(20), nullable=False),
        sa.Column("image_jpeg", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_camera_health_snapshots"),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            [f"{S}.cameras.id"],
            name="fk_camera_health_snapshots_camera_id_cameras",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["fault_id"],
            [f"{S}.faults.id"],
            name="fk_camera_health_snapshots_fault_id_faults",
            ondelete="SET NULL",
        ),
        schema=S,
    )
    op.create_index(
        "ix_camera_health_snapshots_expires_at",
        "camera_health_snapshots",
        ["expires_at"],
        schema=S,
    )
    op.create_index(
        "ix_camera_health_snapshots_fault_id", "camera_health_snapshots", ["fault_id"], schema=S
    )


def downgrade() -> None:
    op.drop_index("ix_camera_health_snapshots_fault_id", "camera_health_snapshots", schema=S)
    op.drop_index("ix_camera_health_snapshots_expires_at", "camera_health_snapshots", schema=S)
    op.drop_table("camera_health_snapshots", schema=S)
    op.drop_index("ix_camera_health_checks_camera_id_checked_at", "camera_health_checks", schema=S)
    op.drop_table("camera_health_checks", schema=S)
    op.drop_table("camera_streams", schema=S)
