"""Hotspots: surface runs, hotspot polygons, water-safety sites.

Revision ID: 0003_hotspots
Revises: 0002_assets
Create Date: 2026-11-22
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_hotspots"
down_revision = "0002_assets"
branch_labels = None
depends_on = None

S = "hotspots"


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {S}")
    op.create_table(
        "surface_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("created_by", sa.String(200)),
        sa.Column("idempotency_key", sa.String(300)),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("tif_path", sa.String(400)),
        sa.Column("stats", postgresql.JSONB(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_surface_runs"),
        sa.UniqueConstraint("idempotency_key", name="uq_surface_runs_idempotency_key"),
        sa.CheckConstraint(
            "status IN ('queued','running','done','failed')", name="ck_surface_runs_status"
        ),
        sa.CheckConstraint("progress >= 0 AND progress <= 1", name="ck_surface_runs_progress"),
        schema=S,
    )
    op.create_index("ix_surface_runs_created_at", "surface_runs", ["created_at"], schema=S)
    op.create_table(
        "hotspot_polygons",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("peak", sa.Float(), nullable=False),
        sa.Column("mean", sa.Float(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON", srid=27700, spatial_index=False
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            [f"{S}.surface_runs.id"],
            name="fk_hotspot_polygons_run_id_surface_runs",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_hotspot_polygons"),
        schema=S,
    )
    op.create_index("ix_hotspot_polygons_run_id", "hotspot_polygons", ["run_id"], schema=S)
    op.create_index(
        "idx_hotspot_polygons_geom", "hotspot_polygons", ["geom"], schema=S, postgresql_using="gist"
    )
    op.create_table(
        "water_sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("notes", sa.Text()),
        sa.Column("created_by", sa.String(200)),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(geometry_type="GEOMETRY", srid=27700, spatial_index=False),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name="pk_water_sites"),
        sa.CheckConstraint("kind IN ('access_point','bank_stretch')", name="ck_water_sites_kind"),
        schema=S,
    )
    op.create_index(
        "idx_water_sites_geom", "water_sites", ["geom"], schema=S, postgresql_using="gist"
    )


def downgrade() -> None:
    op.drop_table("water_sites", schema=S)
    op.drop_table("hotspot_polygons", schema=S)
    op.drop_table("surface_runs", schema=S)
