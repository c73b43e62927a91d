"""PostGIS, schemas, API tokens and shared incidents.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-22
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_core"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    for schema in ("core", "incidents", "assets", "hotspots", "predictive"):
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
        sa.CheckConstraint(
            "role IN ('operator','seg','crew','analyst','admin')", name="ck_api_tokens_role"
        ),
        schema="core",
    )
    op.create_table(
        "imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("file_name", sa.String(400), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column(
            "started_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_added", sa.Integer(), nullable=False),
        sa.Column("rows_existing", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("errors", postgresql.JSONB(), nullable=False),
        sa.Column("imported_by", sa.String(200)),
        sa.PrimaryKeyConstraint("id", name="pk_imports"),
        schema="incidents",
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("source_id", sa.String(300), nullable=False),
        sa.Column("category", sa.String(120), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("time_precision", sa.String(8), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(geometry_type="POINT", srid=27700, spatial_index=False),
            nullable=False,
        ),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("attributes", postgresql.JSONB(), nullable=False),
        sa.Column("import_id", sa.Integer()),
        sa.ForeignKeyConstraint(
            ["import_id"], ["incidents.imports.id"], name="fk_incidents_import_id_imports"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
        sa.UniqueConstraint("source", "source_id", name="uq_incidents_source_source_id"),
        sa.CheckConstraint("time_precision IN ('exact','month')", name="ck_incidents_precision"),
        schema="incidents",
    )
    op.create_index(
        "ix_incidents_category_time", "incidents", ["category", "occurred_at"], schema="incidents"
    )
    op.create_index("ix_incidents_occurred_at", "incidents", ["occurred_at"], schema="incidents")
    op.create_index(
        "idx_incidents_geom", "incidents", ["geom"], schema="incidents", postgresql_using="gist"
    )


def downgrade() -> None:
    op.drop_table("incidents", schema="incidents")
    op.drop_table("imports", schema="incidents")
    op.drop_table("api_tokens", schema="core")
