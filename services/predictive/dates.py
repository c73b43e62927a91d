"""Medway's calendar for lists and visits: the London day, local midnight, days, date ranges."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from shared.errors import InvalidInput

LONDON = ZoneInfo("Europe/London")
MAX_RANGE_DAYS = 366


def today_london() -> date:
    """Today's date in Medway."""
    return datetime.now(LONDON).date()


def local_midnight(day: date) -> datetime:
    """Midnight at the start of ``day`` in Europe/London, as a UTC datetime."""
    return datetime.combine(day, time(0), tzinfo=LONDON).astimezone(UTC)


def epoch_days(dt: datetime) -> float:
    """``dt`` as days since 1970-01-01 UTC (the time axis of ``compute``)."""
    return dt.timestamp() / 86400.0


def check_range(date_from: date, date_to: date) -> None:
    """InvalidInput unless ``date_from`` <= ``date_to`` and they span at most MAX_RANGE_DAYS."""
    if date_to < date_from:
        raise InvalidInput("'to' is before 'from'")
    if (date_to - date_from).days > MAX_RANGE_DAYS:
        raise InvalidInput(f"Ask for at most {MAX_RANGE_DAYS} days at a time")
