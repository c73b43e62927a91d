"""What the list pages say about their data: the period, a stale day's notice, how lists are made.

Reading only. Dates are written as people read them; where the incident data do not reach a
list's day the page says so and links the newest list that has data.
"""

from __future__ import annotations

from datetime import date as date_cls
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from services.predictive.lists.period import DataPeriod, agency_period, newest_list_with_data
from services.predictive.lists.service import list_window
from services.predictive.models import Agency
from services.predictive.web.wording import count, long_date

PAGE = "/targets/page"


def page_url(agency: str, day: date_cls | None = None) -> str:
    """The list page of ``agency`` (for ``day``; without one, today's)."""
    query = {"agency": agency} | ({"date": day.isoformat()} if day else {})
    return f"{PAGE}?{urlencode(query)}"


def period_text(period: DataPeriod, *, before: date_cls | None = None) -> str:
    """ "Incidents up to 30 September 2022.", or that there are none."""
    if period.last is None:
        if before is None:
            return "No incidents of this agency's kinds are held yet."
        return f"No incidents of this list's kinds are held before {long_date(before)}."
    if before is None and period.first is not None:
        return f"Incidents from {long_date(period.first)} to {long_date(period.last)}."
    return f"Incidents up to {long_date(period.last)}."


def freshness(
    session: Session, agency: Agency, day: date_cls, period: DataPeriod
) -> dict[str, Any]:
    """Whether the list's day has incident data near it; if not, why and where the data are."""
    if period.near(day):
        return {"near": True}
    gap = period.days_before(day)
    if gap is None:
        why = f"No incident of this list's kinds was recorded before {long_date(day)}."
    else:
        assert period.last is not None
        why = (
            f"The newest incident of this list's kinds is from {long_date(period.last)}, "
            f"{count(gap, 'day')} before {long_date(day)}: this list does not show where "
            "incidents are likely now."
        )
    overall = agency_period(session, agency=agency)
    newest = overall.next_day
    out: dict[str, Any] = {"near": False, "why": why, "newest_href": None, "how_to_make": None}
    if newest is None:
        out["why"] = why + " No incidents of this agency's kinds are held at all."
        return out
    with_data = newest_list_with_data(session, agency=agency, period=overall)
    if with_data is not None and with_data != day:
        out["newest_href"] = page_url(agency.code, with_data)
        out["newest_label"] = (
            f"Open the list for {long_date(with_data)}, the newest day with incident data"
            if with_data == newest
            else f"Open the list for {long_date(with_data)}, the newest list with incident data"
        )
    if with_data != newest:
        out["how_to_make"] = (
            f"The newest day with incident data is {long_date(newest)}, and it has no list yet. "
            + how_to_make(agency.code, newest)
        )
    return out


def how_to_make(agency: str, day: date_cls) -> str:
    """How a list for ``agency`` on ``day`` is made, in a sentence."""
    cli = f"csp predict generate --agency {agency} --date {day.isoformat()}"
    lo, hi = list_window()
    if lo <= day <= hi:
        return (
            "An analyst can make it (POST /targets with the agency and that date), or an "
            f"administrator on the server with: {cli}"
        )
    return (
        f"An administrator can make it on the server with: {cli} (lists are made on request "
        "only up to a year back)."
    )
