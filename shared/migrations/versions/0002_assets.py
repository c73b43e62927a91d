"""Assets: camera register, devices, positions, faults, footage requests, decisions, audit.

Revision ID: 0002_assets
Revises: 0001_core
Create Date: 2026-11-22
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_assets"
down_revision = "0001_core"
branch_labels = None
depends_on = None

S = "assets"


def _ts(name: str, *, now: bool = False, nullable: bool = False) -> sa.Column:
    if now:
        return sa.Column(
            name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        )
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {S}")
    op.execute(f"CREATE SEQUENCE IF NOT EXISTS {S}.fault_number_seq")
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_tag", sa.String(60), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("ward", sa.String(120)),
        sa.Column("ward_code", sa.String(12)),
        sa.Column("purpose", sa.String(400)),
        sa.Column("technology", sa.String(10), nullable=False),
        sa.Column("deployment", sa.String(10), nullable=False),
        sa.Column("bearing_deg", sa.Float()),
        sa.Column("fov_deg", sa.Float()),
        sa.Column("range_m", sa.Float()),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(geometry_type="POINT", srid=27700, spatial_index=False),
            nullable=False,
        ),
        sa.Column(
            "view_geom",
            geoalchemy2.types.Geometry(geometry_type="POLYGON", srid=27700, spatial_index=False),
        ),
        sa.Column("installed_on", sa.Date()),
        sa.Column("expected_life_years", sa.Integer()),
        sa.Column("owner", sa.String(200)),
        sa.Column("retention_days", sa.Integer()),
        sa.Column("dpia_ref", sa.String(120)),
        sa.Column("lifecycle", sa.String(20), nullable=False),
        sa.Column("health", sa.String(10), nullable=False),
        sa.Column("next_review_due", sa.Date()),
        _ts("created_at", now=True),
        _ts("updated_at", now=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cameras"),
        sa.UniqueConstraint("asset_tag", name="uq_cameras_asset_tag"),
        sa.CheckConstraint(
            "lifecycle IN ('proposed','approved','rejected','active','under_review','in_store',"
            "'decommissioning','decommissioned')",
            name="ck_cameras_lifecycle",
        ),
        sa.CheckConstraint("health IN ('online','degraded','offline')", name="ck_cameras_health"),
        sa.CheckConstraint("technology IN ('analogue','digital')", name="ck_cameras_technology"),
        sa.CheckConstraint("deployment IN ('fixed','rapid')", name="ck_cameras_deployment"),
        schema=S,
    )
    op.create_index("ix_cameras_lifecycle", "cameras", ["lifecycle"], schema=S)
    op.create_index("ix_cameras_next_review_due", "cameras", ["next_review_due"], schema=S)
    op.create_index("idx_cameras_geom", "cameras", ["geom"], schema=S, postgresql_using="gist")
    op.create_index(
        "idx_cameras_view_geom", "cameras", ["view_geom"], schema=S, postgresql_using="gist"
    )

    op.create_table(
        "camera_devices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("technology", sa.String(10), nullable=False),
        sa.Column("installed_on", sa.Date()),
        sa.Column("expected_life_years", sa.Integer()),
        sa.Column("removed_on", sa.Date()),
        sa.Column("replaces_id", sa.Integer()),
        sa.Column("note", sa.String(400)),
        sa.PrimaryKeyConstraint("id", name="pk_camera_devices"),
        sa.ForeignKeyConstraint(
            ["camera_id"], [f"{S}.cameras.id"], name="fk_camera_devices_camera_id_cameras"
        ),
        sa.ForeignKeyConstraint(
            ["replaces_id"],
            [f"{S}.camera_devices.id"],
            name="fk_camera_devices_replaces_id_camera_devices",
        ),
        sa.CheckConstraint(
            "technology IN ('analogue','digital')", name="ck_camera_devices_technology"
        ),
        schema=S,
    )
    op.create_index("ix_camera_devices_camera_id", "camera_devices", ["camera_id"], schema=S)

    op.create_table(
        "camera_positions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(geometry_type="POINT", srid=27700, spatial_index=False),
            nullable=False,
        ),
        sa.Column("bearing_deg", sa.Float()),
        sa.Column("valid_from", sa.Date()),
        sa.Column("valid_to", sa.Date()),
        sa.Column("reason", sa.String(400)),
        sa.PrimaryKeyConstraint("id", name="pk_camera_positions"),
        sa.ForeignKeyConstraint(
            ["camera_id"], [f"{S}.cameras.id"], name="fk_camera_positions_camera_id_cameras"
        ),
        schema=S,
    )
    op.create_index("ix_camera_positions_camera_id", "camera_positions", ["camera_id"], schema=S)

    op.create_table(
        "faults",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(30), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        _ts("reported_at"),
        _ts("resolved_at", nullable=True),
        sa.Column("reported_by", sa.String(200), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        _ts("created_at", now=True),
        sa.PrimaryKeyConstraint("id", name="pk_faults"),
        sa.UniqueConstraint("number", name="uq_faults_number"),
        sa.ForeignKeyConstraint(
            ["camera_id"], [f"{S}.cameras.id"], name="fk_faults_camera_id_cameras"
        ),
        sa.CheckConstraint(
            "status IN ('open','in_progress','fixed','closed')", name="ck_faults_status"
        ),
        schema=S,
    )
    op.create_index("ix_faults_camera_id", "faults", ["camera_id"], schema=S)
    op.create_index("ix_faults_status", "faults", ["status"], schema=S)

    op.create_table(
        "fault_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fault_id", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(12)),
        sa.Column("to_status", sa.String(12), nullable=False),
        _ts("at"),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("note", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_fault_events"),
        sa.ForeignKeyConstraint(
            ["fault_id"], [f"{S}.faults.id"], name="fk_fault_events_fault_id_faults"
        ),
        schema=S,
    )
    op.create_index("ix_fault_events_fault_id", "fault_events", ["fault_id"], schema=S)

    op.create_table(
        "footage_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(120), nullable=False),
        sa.Column("outcome", sa.String(30), nullable=False),
        sa.Column("note", sa.Text()),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        _ts("created_at", now=True),
        sa.PrimaryKeyConstraint("id", name="pk_footage_requests"),
        sa.ForeignKeyConstraint(
            ["camera_id"], [f"{S}.cameras.id"], name="fk_footage_requests_camera_id_cameras"
        ),
        schema=S,
    )
    op.create_index("ix_footage_requests_camera_id", "footage_requests", ["camera_id"], schema=S)

    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(30), nullable=False),
        sa.Column("meeting_date", sa.Date(), nullable=False),
        sa.Column("minute_ref", sa.String(120), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("dpia_ref", sa.String(120)),
        sa.Column("lifecycle_before", sa.String(20), nullable=False),
        sa.Column("lifecycle_after", sa.String(20), nullable=False),
        sa.Column("details", postgresql.JSONB(), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        _ts("created_at", now=True),
        sa.PrimaryKeyConstraint("id", name="pk_decisions"),
        sa.ForeignKeyConstraint(
            ["camera_id"], [f"{S}.cameras.id"], name="fk_decisions_camera_id_cameras"
        ),
        sa.CheckConstraint(
            "decision IN ('retain','make_permanent','replace_with_digital','relocate',"
            "'decommission','withdraw')",
            name="ck_decisions_decision",
        ),
        schema=S,
    )
    op.create_index("ix_decisions_camera_id", "decisions", ["camera_id"], schema=S)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.Integer()),
        sa.Column("entity", sa.String(30), nullable=False),
        sa.Column("entity_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        _ts("at", now=True),
        sa.Column("before", postgresql.JSONB()),
        sa.Column("after", postgresql.JSONB()),
        sa.Column("reason", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.ForeignKeyConstraint(
            ["camera_id"], [f"{S}.cameras.id"], name="fk_audit_log_camera_id_cameras"
        ),
        schema=S,
    )
    op.create_index("ix_audit_log_camera_id", "audit_log", ["camera_id"], schema=S)
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"], schema=S)

    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(400), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        _ts("at", now=True),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_added", sa.Integer(), nullable=False),
        sa.Column("rows_updated", sa.Integer(), nullable=False),
        sa.Column("rows_unchanged", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("errors", postgresql.JSONB(), nullable=False),
        sa.Column("imported_by", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_imports"),
        schema=S,
    )


def downgrade() -> None:
    for table in (
        "imports",
        "audit_log",
        "decisions",
        "footage_requests",
        "fault_events",
        "faults",
        "camera_positions",
        "camera_devices",
        "cameras",
    ):
        op.drop_table(table, schema=S)
    op.execute(f"DROP SEQUENCE IF EXISTS {S}.fault_number_seq")
