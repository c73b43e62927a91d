"""The crews' date picker: today, tomorrow, the newest day with incident data, dates with a list.

Reading only. Each choice says whether that date has a list yet, so a crew member is never sent
to a page that turns out to be empty without being told. The dates with a list are the newest
``MAX_LIST_DATES`` (older lists stay reachable by their address).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from services.predictive.agencies.defaults import DEFAULTS
from services.predictive.dates import today_london
from services.predictive.lists.period import incident_period
from services.predictive.lists.service import list_dates
from services.predictive.models import Agency
from services.predictive.web.wording import long_date

MAX_LIST_DATES = 60


@dataclass(frozen=True)
class DateChoice:
    """One option of the picker: the ISO date, its words, whether it has a list, if shown now."""

    value: str
    label: str
    has_list: bool
    selected: bool


def choice_label(day: date, *, today: date, newest_data: date | None, has_list: bool) -> str:
    """ "Today, 2 December 2026", "1 October 2022 (newest day with incident data, no list)"."""
    name = {today: "Today", today + timedelta(days=1): "Tomorrow"}.get(day)
    text = f"{name}, {long_date(day)}" if name else long_date(day)
    notes = (["newest day with incident data"] if day == newest_data else []) + (
        [] if has_list else ["no list yet"]
    )
    return f"{text} ({', '.join(notes)})" if notes else text


def date_choices(
    session: Session,
    *,
    agency: Agency | None,
    agency_code: str,
    current: date,
    current_has_list: bool = False,
    today: date | None = None,
) -> list[DateChoice]:
    """The picker's options for ``agency``, ``current`` selected (and listed, whatever it is).

    Today, tomorrow and the newest day with incident data first, then every other date with a
    list, newest first.
    """
    now = today or today_london()
    stored = list_dates(session, agency=agency, limit=MAX_LIST_DATES)
    if agency is not None:
        categories = list(agency.categories)
    else:
        categories = list(DEFAULTS[agency_code].categories) if agency_code in DEFAULTS else []
    newest = incident_period(session, categories=categories).next_day
    first = [now, now + timedelta(days=1)] + ([newest] if newest is not None else [])
    days = list(dict.fromkeys(first + sorted(set(stored) | {current}, reverse=True)))
    with_list = set(stored) | ({current} if current_has_list else set())
    return [
        DateChoice(
            value=d.isoformat(),
            label=choice_label(d, today=now, newest_data=newest, has_list=d in with_list),
            has_list=d in with_list,
            selected=d == current,
        )
        for d in days
    ]
