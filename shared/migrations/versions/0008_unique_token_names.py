"""Token names are unique among active tokens, ignoring case.

Existing active tokens that share a name (ignoring case) keep working: every one but the oldest
gets " #<id>" appended, so the unique index can be built and each holder stays recognisable.

Revision ID: 0008_unique_token_names
Revises: 0007_camera_import_warnings
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_unique_token_names"
down_revision = "0007_camera_import_warnings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        UPDATE core.api_tokens AS t
           SET name = left(t.name, 120 - length(' #' || t.id)) || ' #' || t.id
          FROM (SELECT id, row_number() OVER (PARTITION BY lower(name) ORDER BY id) AS n
                  FROM core.api_tokens WHERE revoked_at IS NULL) AS d
         WHERE d.id = t.id AND d.n > 1
        """
    )
    op.create_index(
        "uq_api_tokens_active_name",
        "api_tokens",
        [sa.text("lower(name)")],
        unique=True,
        schema="core",
        postgresql_where=sa.text("revoked_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("uq_api_tokens_active_name", table_name="api_tokens", schema="core")
