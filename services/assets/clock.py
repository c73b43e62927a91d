"""The register's clock: the current time in UTC, naive times read as UTC, and Medway's
(London) days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")


def now_utc() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


def aware(dt: datetime) -> datetime:
    """``dt`` with a timezone (naive times are taken as UTC)."""
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def london_midnight(day: date) -> datetime:
    """The instant a London day begins, as an aware UTC datetime."""
    return datetime.combine(day, time.min, tzinfo=LONDON).astimezone(UTC)


def london_day(moment: datetime) -> date:
    """The London day of an aware instant."""
    return moment.astimezone(LONDON).date()
