"""ORM models in the ``core`` schema."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, func, text
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


# Longest username and full name (the columns' lengths); shared.accounts checks them first.
USERNAME_MAX = 64
FULL_NAME_MAX = 120


class User(Base):
    """A person who signs in: by password (Argon2 hash) or through the partnership's SSO.

    ``failed_sign_ins`` counts failures since the last success; ``locked_until`` is set once the
    count reaches the limit (shared.accounts). ``sso_issuer``/``sso_subject`` link the account to
    its identity-provider subject once a person has signed in through SSO.
    """

    __tablename__ = "users"
    __table_args__ = (
        Index("uq_users_username", func.lower(text("username")), unique=True),
        Index("uq_users_sso", "sso_issuer", "sso_subject", unique=True),
        {"schema": "core"},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_MAX))
    full_name: Mapped[str] = mapped_column(String(FULL_NAME_MAX))
    role: Mapped[str] = mapped_column(String(20))
    agency_code: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    sso_issuer: Mapped[str | None] = mapped_column(String(300))
    sso_subject: Mapped[str | None] = mapped_column(String(300))
    failed_sign_ins: Mapped[int] = mapped_column(Integer, server_default="0")
    last_failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_sign_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class WebSession(Base):
    """A signed-in browser: the cookie holds a random id, only its SHA-256 digest is stored.

    One table for the three services, so a session started on one is valid on all; ending it
    (sign-out, or disabling the account) ends it everywhere.
    """

    __tablename__ = "web_sessions"
    __table_args__ = ({"schema": "core"},)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("core.users.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    via: Mapped[str] = mapped_column(String(10))


class SsoAttempt(Base):
    """A single sign-on under way: what the callback needs, kept across the provider's redirect.

    The browser carries the clear ``state`` (the query and a short-lived cookie); only its
    SHA-256 digest is kept. The callback deletes the row as it reads it (one use); rows older
    than ``shared.web.oidc.ATTEMPT_TTL`` are refused and swept when new attempts start.
    """

    __tablename__ = "sso_attempts"
    __table_args__ = ({"schema": "core"},)

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    code_verifier: Mapped[str] = mapped_column(String(128))
    nonce: Mapped[str] = mapped_column(String(64))
    next_url: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
