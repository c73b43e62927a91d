"""Predictive: agencies, areas (district and wards), daily target lists, boxes and visits.

Revision ID: 0004_predictive
Revises: 0003_hotspots
Create Date: 2026-11-22
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_predictive"
down_revision = "0003_hotspots"
branch_labels = None
depends_on = None

S = "predictive"


def _geom(kind: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(
        "geom" if kind != "area" else "area",
        geoalchemy2.types.Geometry(
            geometry_type="POLYGON" if kind == "box" else "MULTIPOLYGON",
            srid=27700,
            spatial_index=False,
        ),
        nullable=nullable,
    )


def _now(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)


def upgrade() -> None:
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {S}")
    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("categories", postgresql.JSONB(), nullable=False),
        sa.Column("boxes_per_day", sa.Integer(), nullable=False),
        sa.Column("shift_start_hour", sa.Integer(), nullable=False),
        sa.Column("shift_length_hours", sa.Integer(), nullable=False),
        sa.Column("cell_size_m", sa.Float(), nullable=False),
        sa.Column("method", sa.String(20), nullable=False),
        _geom("area", nullable=True),
        _now("created_at"),
        _now("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_agencies"),
        sa.UniqueConstraint("code", name="uq_agencies_code"),
        sa.CheckConstraint("boxes_per_day BETWEEN 1 AND 500", name="ck_agencies_boxes_per_day"),
        sa.CheckConstraint(
            "shift_start_hour BETWEEN 0 AND 23", name="ck_agencies_shift_start_hour"
        ),
        sa.CheckConstraint(
            "shift_length_hours BETWEEN 1 AND 24", name="ck_agencies_shift_length_hours"
        ),
        sa.CheckConstraint("cell_size_m BETWEEN 25 AND 2000", name="ck_agencies_cell_size_m"),
        schema=S,
    )
    op.create_index("idx_agencies_area", "agencies", ["area"], schema=S, postgresql_using="gist")
    op.create_table(
        "areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _geom("multi"),
        sa.PrimaryKeyConstraint("id", name="pk_areas"),
        sa.UniqueConstraint("kind", "code", name="uq_areas_kind_code"),
        sa.CheckConstraint("kind IN ('district','ward')", name="ck_areas_kind"),
        schema=S,
    )
    op.create_index("idx_areas_geom", "areas", ["geom"], schema=S, postgresql_using="gist")
    op.create_table(
        "target_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("list_date", sa.Date(), nullable=False),
        sa.Column("method", sa.String(40), nullable=False),
        sa.Column("requested_method", sa.String(40), nullable=False),
        sa.Column("params", postgresql.JSONB(), nullable=False),
        sa.Column("warnings", postgresql.JSONB(), nullable=False),
        sa.Column("categories", postgresql.JSONB(), nullable=False),
        sa.Column("cell_size_m", sa.Float(), nullable=False),
        sa.Column("shift_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shift_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trained_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n_events", sa.Integer(), nullable=False),
        sa.Column("n_candidate_cells", sa.Integer(), nullable=False),
        sa.Column("generated_by", sa.String(20), nullable=False),
        _now("created_at"),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            [f"{S}.agencies.id"],
            ondelete="CASCADE",
            name="fk_target_lists_agency_id_agencies",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_target_lists"),
        sa.UniqueConstraint("agency_id", "list_date", name="uq_target_lists_agency_id_list_date"),
        schema=S,
    )
    op.create_index("ix_target_lists_list_date", "target_lists", ["list_date"], schema=S)
    op.create_table(
        "target_boxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.String(40), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("ward", sa.String(200)),
        _geom("box"),
        sa.ForeignKeyConstraint(
            ["list_id"],
            [f"{S}.target_lists.id"],
            ondelete="CASCADE",
            name="fk_target_boxes_list_id_target_lists",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_target_boxes"),
        sa.UniqueConstraint("list_id", "rank", name="uq_target_boxes_list_id_rank"),
        sa.UniqueConstraint("list_id", "cell_id", name="uq_target_boxes_list_id_cell_id"),
        schema=S,
    )
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer()),
        sa.Column("list_date", sa.Date(), nullable=False),
        sa.Column("cell_id", sa.String(40), nullable=False),
        sa.Column("visited_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("crew", sa.String(120), nullable=False),
        sa.Column("notes", sa.Text()),
        sa.Column("logged_by", sa.String(240), nullable=False),
        _now("created_at"),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            [f"{S}.agencies.id"],
            ondelete="CASCADE",
            name="fk_visits_agency_id_agencies",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            [f"{S}.target_lists.id"],
            ondelete="SET NULL",
            name="fk_visits_list_id_target_lists",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_visits"),
        schema=S,
    )
    op.create_index("ix_visits_agency_id_list_date", "visits", ["agency_id", "list_date"], schema=S)


def downgrade() -> None:
    op.drop_table("visits", schema=S)
    op.drop_table("target_boxes", schema=S)
    op.drop_table("target_lists", schema=S)
    op.drop_table("areas", schema=S)
    op.drop_table("agencies", schema=S)
