"""Idempotency keys on the rows people create from the field: faults, footage requests, visits.

A retried POST with the same ``Idempotency-Key`` returns the row the first one made; the unique
constraint is what stops two concurrent retries from both inserting.

Revision ID: 0006_idempotency_keys
Revises: 0005_import_warnings
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_idempotency_keys"
down_revision = "0005_import_warnings"
branch_labels = None
depends_on = None

# (schema, table): each gets a nullable idempotency_key and uq_<table>_idempotency_key.
TABLES = (("assets", "faults"), ("assets", "footage_requests"), ("predictive", "visits"))


def upgrade() -> None:
    for schema, table in TABLES:
        op.add_column(table, sa.Column("idempotency_key", sa.String(300)), schema=schema)
        op.create_unique_constraint(
            f"uq_{table}_idempotency_key", table, ["idempotency_key"], schema=schema
        )


def downgrade() -> None:
    for schema, table in reversed(TABLES):
        op.drop_constraint(f"uq_{table}_idempotency_key", table, type_="unique", schema=schema)
        op.drop_column(table, "idempotency_key", schema=schema)
