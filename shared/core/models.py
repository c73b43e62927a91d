"""ORM models in the ``core`` schema."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base

# Longest token name (the column's length); shared.auth refuses longer names before the database.
TOKEN_NAME_MAX = 120


class ApiToken(Base):
    """An API token: only its SHA-256 hash is stored, with a short prefix to recognise it."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        # Names identify holders to people: unique among active tokens, ignoring case.
        Index(
            "uq_api_tokens_active_name",
            func.lower(text("name")),
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
        {"schema": "core"},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(TOKEN_NAME_MAX))
    role: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
