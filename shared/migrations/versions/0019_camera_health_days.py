"""Assets: camera health checks rolled up per day (issue #16, item 3: availability per camera
per month from the checks as well as from the faults).

- ``assets.camera_health_days``: per camera and Medway day, the checks made and passed, the
  seconds watched, the seconds with no picture (down) and with any fault found (degraded).

Revision ID: 0019_camera_health_days
Revises: 0018_open311_media_address
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_camera_health_days"
down_revision = "0018_open311_media_address"
branch_labels = None
depends_on = None

S = "assets"


def upgrade() -> None:
    op.create_table(
        "camera_health_days",
        sa.Column(
            "camera_id",
            sa.Integer,
            sa.ForeignKey(f"{S}.cameras.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("checks", sa.Integer, nullable=False, server_default="0"),
        sa.Column("passed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("watched_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("down_s", sa.Float, nullable=False, server_default="0"),
        sa.Column("degraded_s", sa.Float, nullable=False, server_default="0"),
        sa.CheckConstraint(
            "checks >= 0 AND passed >= 0 AND passed <= checks AND watched_s >= 0 "
            "AND down_s >= 0 AND down_s <= degraded_s AND degraded_s <= watched_s + 0.001",
            name="ck_camera_health_days_sane",
        ),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("camera_health_days", schema=S)
