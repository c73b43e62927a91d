"""The analysts' backtest page: start a backtest of an agency over a period, watch it, read it.

Beside the results, "Does it repeat nearby?": the Knox near-repeat table of each of the agency's
categories over the same period (``static/nearrepeat.js`` asks ``POST /near-repeat`` one category
at a time, so the page can say how far it has got, and draws the tables as text).

Analysts (and admins) only: anyone else signed in gets the suite's 403 page, nobody signed in the
sign-in page. The page holds no results of its own: its script starts a job with ``POST
/backtests`` (the session cookie, the page's CSRF token and an Idempotency-Key), polls ``GET
/backtests/{id}`` every 2 s while it runs, and draws the table from the numbers as text (never
as markup) with the job's PNG plot beside it. What the incident data cover is on the page, so a
window they do not cover is said before anything starts.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.predictive.agencies.service import agency_area, list_agencies
from services.predictive.compute.methods import default_methods
from services.predictive.compute.nearrepeat import MAX_PERMUTATIONS
from services.predictive.dependencies import ANALYSE, Analyst
from services.predictive.diagnostics.backtests.schemas import (
    DEFAULT_METHODS,
    DEFAULT_SHARES,
    MAX_ID,
    MAX_METHODS,
    MAX_PERIOD_DAYS,
    MAX_SHARES,
)
from services.predictive.diagnostics.backtests.service import (
    TRAINING_DAYS,
    default_window,
    month_only,
)
from services.predictive.lists.period import incident_period
from services.predictive.models import Agency, Area
from services.predictive.nearrepeat.schemas import (
    DEFAULT_DISTANCES,
    DEFAULT_TIMES,
    MAX_CATEGORIES,
    MAX_DISTANCE_M,
    MAX_TIME_DAYS,
)
from services.predictive.nearrepeat.service import SIGNIFICANT, category_counts
from services.predictive.web.wording import count, long_date
from shared.db import SessionDep
from shared.web.pages import page_user, register_templates, render

router = APIRouter(tags=["pages"], include_in_schema=False)
register_templates("predictive", Path(__file__).parent / "templates")
PAGE = "/backtests/page"
WHAT = "The backtest page"
POLL_MS = 2000  # the page asks how a job is getting on at most every 2 s
NEAR_REPEAT_JS = Path(__file__).parent / "static" / "nearrepeat.js"
NEAR_PERMUTATIONS = (99, 199, 499, 999)  # Monte Carlo runs offered; 99 gives p down to 0.01
# One category's analysis takes at most ~3 s at the service's bound (2 million pairs x 100,
# measured on a year of Vancouver thefts); the page gives up on one after this.
NEAR_TIME_LIMIT_MS = 60_000
SHARES = (0.005, 0.01, 0.02, 0.05, 0.1, 0.2)
# What each method does, in a few words (the registry's names stay in the table).
METHOD_WORDS = {
    "auto": "the suite's own choice for the data",
    "etas": "self-exciting: repeats and near repeats",
    "etas_smooth": "self-exciting, with a smoothed background",
    "naive28": "counts of the last 28 days",
    "naive90": "counts of the last 90 days",
    "naive3m": "counts of the last three whole months",
    "kde": "a smoothed map of the past year",
    "prospective": "prospective hotspotting",
    "best_static": "the best of the simple rankings on the recent past",
    "sepp": "self-exciting across neighbouring boxes (near repeats)",
}


def _day(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def _agency(session: Session, agency: Agency) -> dict[str, Any]:
    """What the page needs of an agency: its settings, the incident data it has, a window."""
    cats = list(agency.categories)
    period = incident_period(session, categories=cats)
    by_month = month_only(session, categories=cats)
    window = default_window(period, by_month=by_month)
    held = (
        f"from {long_date(period.first)} to {long_date(period.last)} "
        f"({count(period.count, 'incident')})"
        if period.first and period.last
        else None
    )
    return {
        "code": agency.code,
        "name": agency.name,
        "categories": cats,
        "boxes": agency.boxes_per_day,
        "cell_size_m": agency.cell_size_m,
        "first": _day(period.first),
        "last": _day(period.last),
        "incidents": period.count,
        "held": held,
        "month_only": by_month,
        "default_from": _day(window[0]) if window else None,
        "default_to": _day(window[1]) if window else None,
        "has_area": agency_area(session, agency=agency) is not None,
        "near": category_counts(session, categories=cats),
    }


def _ward_names(session: Session) -> list[str]:
    """Every ward's name: the exposure table lists the wards no box was chosen in too."""
    return list(session.scalars(select(Area.name).where(Area.kind == "ward").order_by(Area.name)))


def _job(value: str | None) -> tuple[int | None, str | None]:
    """The job asked for in ``?job=``, or a sentence saying why it cannot be one."""
    if value is None or value == "":
        return None, None
    if value.isdigit() and 1 <= int(value) <= MAX_ID:
        return int(value), None
    return None, f"There is no backtest {value[:40]!r}: a backtest is a number such as 12."


@router.get(PAGE, response_class=HTMLResponse, summary="Backtests of the forecast methods")
def backtests_page(
    request: Request,
    session: SessionDep,
    job: Annotated[str | None, Query(max_length=40, description="A backtest to open")] = None,
) -> HTMLResponse:
    """Start a backtest for an agency and a period, watch its progress, read its table and plot."""
    who = page_user(request, session, *ANALYSE, what=WHAT)
    agencies = [_agency(session, a) for a in list_agencies(session)]
    job_id, job_problem = _job(job)
    methods = [
        {"name": m, "words": METHOD_WORDS.get(m, ""), "checked": m in DEFAULT_METHODS}
        for m in default_methods.choices
    ]
    shares = [
        {"value": s, "label": f"{100 * s:g}%", "checked": s in DEFAULT_SHARES} for s in SHARES
    ]
    page_data = {
        "agencies": agencies,
        "methods": {m["name"]: m["words"] for m in methods},
        "job": job_id,
        "poll_ms": POLL_MS,
        "max_days": MAX_PERIOD_DAYS,
        "max_methods": MAX_METHODS,
        "max_shares": MAX_SHARES,
        "wards": _ward_names(session),
        "near": {
            "max_categories": MAX_CATEGORIES,
            "significant": SIGNIFICANT,
            "training_days": TRAINING_DAYS,
            "distances_m": list(DEFAULT_DISTANCES),
            "times_days": list(DEFAULT_TIMES),
            "max_distance_m": MAX_DISTANCE_M,
            "max_time_days": MAX_TIME_DAYS,
            "max_permutations": MAX_PERMUTATIONS,
            "time_limit_ms": NEAR_TIME_LIMIT_MS,
        },
    }
    context = {
        "agencies": agencies,
        "methods": methods,
        "shares": shares,
        "job_problem": job_problem,
        "max_days": MAX_PERIOD_DAYS,
        "max_methods": MAX_METHODS,
        "near_permutations": NEAR_PERMUTATIONS,
        "near_distances": ", ".join(f"{v:g}" for v in DEFAULT_DISTANCES),
        "near_times": ", ".join(f"{v:g}" for v in DEFAULT_TIMES),
        "near_significant": SIGNIFICANT,
        "page_data": page_data,
    }
    return render(request, "predictive/backtests.html", context, who=who)


@router.get(f"{PAGE}/nearrepeat.js")
def near_repeat_script(_: Analyst) -> FileResponse:
    """The script that draws the near-repeat tables of the backtest page (its people only)."""
    return FileResponse(NEAR_REPEAT_JS, media_type="text/javascript; charset=utf-8")
