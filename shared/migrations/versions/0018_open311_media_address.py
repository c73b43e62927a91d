"""Assets: what an Open311 report carries besides the fault (issue #17, item 4).

- ``faults.media_url``: the photo (or other media) the reporter linked, http(s) only.
- ``faults.address_string``: the reporter's own description of where the camera is.
- ``faults.reporter_key``: which caller filed it through Open311 (a token id or ``user:<id>``),
  so a reporter's ``api_key`` reads back its own requests; never shown in a request.

Revision ID: 0018_open311_media_address
Revises: 0017_camera_health
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0018_open311_media_address"
down_revision = "0017_camera_health"
branch_labels = None
depends_on = None

S = "assets"


def upgrade() -> None:
    op.add_column("faults", sa.Column("media_url", sa.String(2048)), schema=S)
    op.add_column("faults", sa.Column("address_string", sa.String(500)), schema=S)
    op.add_column("faults", sa.Column("reporter_key", sa.String(60)), schema=S)
    op.create_check_constraint(
        "ck_faults_media_url_http",
        "faults",
        "media_url IS NULL OR media_url ~* '^https?://'",
        schema=S,
    )


def downgrade() -> None:
    op.drop_constraint("ck_faults_media_url_http", "faults", schema=S, type_="check")
    op.drop_column("faults", "reporter_key", schema=S)
    op.drop_column("faults", "address_string", schema=S)
    op.drop_column("faults", "media_url", schema=S)
