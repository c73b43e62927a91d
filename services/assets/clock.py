"""The register's clock: the current time in UTC, and naive times read as UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def now_utc() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def aware(dt: datetime) -> datetime:
    """``dt`` with a timezone (naive times are taken as UTC)."""
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
