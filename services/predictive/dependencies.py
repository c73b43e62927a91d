"""What the predictive handlers and pages share: who may do what, query parameters, limits.

The roles are defined here once: the API's dependencies and the list page's checks read the
same tuples (admins hold every role, as ``shared.auth.require`` says). A crew member with an
agency sees that agency's lists and visits only (``check_agency``); analysts, admins and API
tokens have no agency and see every agency's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated

from fastapi import Depends, Query

from services.predictive.agencies.defaults import DEFAULTS
from services.predictive.dates import today_london
from services.predictive.limits import Limits
from services.predictive.schemas import ListDate
from shared.auth import Principal, require
from shared.errors import Forbidden
from shared.web.deps import AppSettings

READ_LISTS = ("crew", "analyst")  # see lists and visits
LOG_VISITS = ("crew",)  # analysts read lists, crews log visits
ANALYSE = ("analyst",)  # make lists on request, diagnostics
ADMINISTER = ("admin",)  # change agencies' settings

Reader = Annotated[Principal, Depends(require(*READ_LISTS))]
Crew = Annotated[Principal, Depends(require(*LOG_VISITS))]
Analyst = Annotated[Principal, Depends(require(*ANALYSE))]
Admin = Annotated[Principal, Depends(require(*ADMINISTER))]

AgencyQ = Annotated[str, Query(min_length=1, max_length=20, description=" | ".join(DEFAULTS))]
DateQ = Annotated[ListDate | None, Query(description="List date (default: today in Medway)")]
# Without "from" and "to": the 28 days up to today.
DEFAULT_RANGE_DAYS = 28


def agency_refusal(who: Principal, agency: str) -> str | None:
    """Why ``who`` may not see ``agency``'s lists, or None when they may."""
    if who.may_see_agency(agency):
        return None
    own = (who.agency or "").upper()
    return (
        f"You are signed in as a crew member of {own}: you see {own}'s lists only, "
        f"not {agency.upper()}'s"
    )


def check_agency(who: Principal, agency: str) -> None:
    """Forbidden (403) unless ``who`` may see ``agency``'s lists and visits."""
    refusal = agency_refusal(who, agency)
    if refusal is not None:
        raise Forbidden(refusal, extra={"agency": agency, "your_agency": who.agency})


def _agency_reader(who: Reader, agency: AgencyQ) -> Principal:
    check_agency(who, agency)
    return who


# A reader of the ``agency`` query parameter's lists: a crew member of another agency is a 403.
AgencyReader = Annotated[Principal, Depends(_agency_reader)]


def _limits(settings: AppSettings) -> Limits:
    return Limits.of(settings)


LimitsDep = Annotated[Limits, Depends(_limits)]


@dataclass(frozen=True)
class DateRange:
    """List dates ``start`` to ``end`` inclusive."""

    start: date
    end: date


def _date_range(
    date_from: Annotated[ListDate | None, Query(alias="from")] = None,
    date_to: Annotated[ListDate | None, Query(alias="to")] = None,
) -> DateRange:
    end = date_to or today_london()
    return DateRange(date_from or end - timedelta(days=DEFAULT_RANGE_DAYS - 1), end)


DateRangeQ = Annotated[DateRange, Depends(_date_range)]
