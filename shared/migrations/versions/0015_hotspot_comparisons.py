"""Hotspots: incidents inside each hotspot polygon; comparisons of two periods and their areas.

``hotspot_polygons.incidents`` counts the run's incidents in the hotspot's cells (NULL for runs
computed before it was kept). ``surface_comparisons`` is a background job like a surface run
(same status, progress, lease and output columns); ``comparison_areas`` holds each area that is
a hotspot in either period and what became of it (appeared, grew, shrank, gone, stayed).

Revision ID: 0015_hotspot_comparisons
Revises: 0014_backtest_jobs
Create Date: 2026-12-10
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015_hotspot_comparisons"
down_revision = "0014_backtest_jobs"
branch_labels = None
depends_on = None

S = "hotspots"


def upgrade() -> None:
    op.add_column("hotspot_polygons", sa.Column("incidents", sa.Integer()), schema=S)
    op.create_table(
        "surface_comparisons",
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
        sa.Column("lease_owner", sa.String(length=120)),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_surface_comparisons"),
        sa.UniqueConstraint("idempotency_key", name="uq_surface_comparisons_idempotency_key"),
        sa.CheckConstraint(
            "status IN ('queued','running','done','failed')", name="ck_surface_comparisons_status"
        ),
        sa.CheckConstraint(
            "progress >= 0 AND progress <= 1", name="ck_surface_comparisons_progress"
        ),
        schema=S,
    )
    op.create_index(
        "ix_surface_comparisons_created_at", "surface_comparisons", ["created_at"], schema=S
    )
    op.create_table(
        "comparison_areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("comparison_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("change", sa.String(10), nullable=False),
        sa.Column("area_before_m2", sa.Float(), nullable=False),
        sa.Column("area_after_m2", sa.Float(), nullable=False),
        sa.Column("incidents_before", sa.Integer(), nullable=False),
        sa.Column("incidents_after", sa.Integer(), nullable=False),
        sa.Column("peak_before", sa.Float(), nullable=False),
        sa.Column("peak_after", sa.Float(), nullable=False),
        sa.Column("ward", sa.String(200)),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON", srid=27700, spatial_index=False
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["comparison_id"],
            [f"{S}.surface_comparisons.id"],
            name="fk_comparison_areas_comparison_id_surface_comparisons",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_comparison_areas"),
        sa.CheckConstraint(
            "change IN ('appeared','grew','shrank','gone','stayed')",
            name="ck_comparison_areas_change",
        ),
        schema=S,
    )
    op.create_index(
        "ix_comparison_areas_comparison_id", "comparison_areas", ["comparison_id"], schema=S
    )
    op.create_index(
        "idx_comparison_areas_geom", "comparison_areas", ["geom"], schema=S, postgresql_using="gist"
    )


def downgrade() -> None:
    op.drop_table("comparison_areas", schema=S)
    op.drop_table("surface_comparisons", schema=S)
    op.drop_column("hotspot_polygons", "incidents", schema=S)
