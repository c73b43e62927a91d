"""Boundary areas shared by the services: the outline, wards and LSOAs (EPSG:27700).

Revision ID: 0011_boundary_areas
Revises: 0010_users_and_sessions
Create Date: 2026-12-03
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision = "0011_boundary_areas"
down_revision = "0010_users_and_sessions"
branch_labels = None
depends_on = None

S = "core"


def upgrade() -> None:
    op.create_table(
        "boundary_areas",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("layer", sa.String(10), nullable=False),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="MULTIPOLYGON", srid=27700, spatial_index=False
            ),
            nullable=False,
        ),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column(
            "loaded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_boundary_areas"),
        sa.UniqueConstraint("layer", "code", name="uq_boundary_areas_layer_code"),
        sa.CheckConstraint("layer IN ('outline','ward','lsoa')", name="ck_boundary_areas_layer"),
        schema=S,
    )
    op.create_index(
        "idx_boundary_areas_geom", "boundary_areas", ["geom"], schema=S, postgresql_using="gist"
    )


def downgrade() -> None:
    op.drop_index("idx_boundary_areas_geom", table_name="boundary_areas", schema=S)
    op.drop_table("boundary_areas", schema=S)
