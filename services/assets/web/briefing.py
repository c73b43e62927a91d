"""The SEG's quarterly CCTV briefing: ``/briefing`` (a printable page, A4) and ``/briefing.pdf``.

For the Strategic Executive Group, analysts and admins (anyone else: the sign-in page or the 403
page). ``?quarter=2026Q3`` picks the quarter (default: the last full one), within the years the
register holds records for. The figures come from ``services.assets.briefing.service``; the
PDF is WeasyPrint's layout of this same page, so the two always say the same. Police footage
references never appear: the briefing counts requests by outcome.
"""

from __future__ import annotations

import base64
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from services.assets import lifecycle as lc
from services.assets.briefing import mapimage, maplayers
from services.assets.briefing import service as svc
from services.assets.briefing.pdf import PDF_MEDIA_TYPE, html_to_pdf
from services.assets.briefing.quarters import (
    Quarter,
    QuarterError,
    QuarterRange,
    default_quarter,
    parse_quarter,
)
from services.assets.clock import LONDON, london_day, now_utc
from services.assets.dependencies import SettingsDep
from services.assets.web import pages  # noqa: F401 - registers the service's templates
from services.assets.web.evidence import long_date, period_sentence
from services.assets.web.reviewmap import LIFECYCLE_COLOURS, LIFECYCLE_LABELS
from shared.app import STATIC_DIR
from shared.auth import Principal
from shared.db import SessionDep
from shared.errors import InvalidInput
from shared.web.pages import page_user, render

BRIEFING_READERS = ("seg", "analyst")
WHAT = "The CCTV briefing"
TEMPLATE = "assets/briefing.html"
# Longer than any quarter's spelling; the parser says what is wrong with anything in between.
QUARTER_QUERY_MAX = 200

router = APIRouter(tags=["pages"], include_in_schema=False)

_WORDS: dict[str, str] = {
    # SEG decisions and recommended actions
    "retain": "Retain",
    "make_permanent": "Make permanent",
    "replace_with_digital": "Replace with digital",
    "relocate": "Relocate",
    "decommission": "Decommission",
    "withdraw": "Withdraw to store",
    "review": "Review",
    # footage outcomes
    "pending": "Pending",
    "provided": "Footage provided",
    "no_relevant_footage": "No relevant footage",
    "not_recorded": "Not recorded",
    "refused": "Refused",
    # rules
    "redundant_overlap": "Views overlap",
    "end_of_life": "Past its expected life",
    "poor_reliability": "Poor reliability",
    "rapid_in_use": "Rapid camera in use",
    "no_evidence_of_use": "Use not shown",
}


@dataclass(frozen=True)
class Fmt:
    """How the page writes numbers, times and names (the template calls these)."""

    def n(self, value: int) -> str:
        """A count with thousands commas."""
        return f"{value:,}"

    def pct(self, share: float | None) -> str:
        """A share as a percentage to two places (``99.87%``); a dash for none."""
        return "\u2013" if share is None else f"{share * 100:.2f}%"

    def hours(self, value: float) -> str:
        """Hours to one place (``26.5 h``)."""
        return f"{value:,.1f} h"

    def day(self, value: date) -> str:
        """``30 September 2026``."""
        return long_date(value)

    def when(self, value: datetime) -> str:
        """A London date and time: ``3 May 2024, 14:05``."""
        local = value.astimezone(LONDON)
        return f"{long_date(local.date())}, {local:%H:%M}"

    def word(self, code: str) -> str:
        """A vocabulary code in words (``replace_with_digital`` -> ``Replace with digital``)."""
        return _WORDS.get(code) or LIFECYCLE_LABELS.get(code) or code.replace("_", " ").capitalize()

    def plural(self, count: int, one: str, many: str | None = None) -> str:
        """``1 fault``, ``3 faults``."""
        return f"{count:,} {one if count == 1 else (many or one + 's')}"


FMT = Fmt()


def chosen_quarter(raw: str | None, span: QuarterRange, today: date) -> tuple[Quarter, str | None]:
    """The quarter asked for (the default when none), or the default and why it was refused."""
    fallback = min(max(default_quarter(today), span.first), span.last)
    if raw is None or not raw.strip():
        return fallback, None
    try:
        return span.check(parse_quarter(raw[:QUARTER_QUERY_MAX])), None
    except QuarterError as e:
        return fallback, str(e)


def map_png(session: Session) -> tuple[bytes, str]:
    """The map (PNG) and the words that stand for it (alt text)."""
    cameras = maplayers.map_cameras(session)
    wards, outline = maplayers.map_areas(session)
    png = mapimage.render_map_png(
        cameras=cameras,
        wards=wards,
        outline=outline,
        colours=LIFECYCLE_COLOURS,
        labels=LIFECYCLE_LABELS,
    )
    counts = Counter(c.lifecycle for c in cameras)
    parts = [f"{counts[k]} {LIFECYCLE_LABELS[k].lower()}" for k in LIFECYCLE_COLOURS if counts[k]]
    areas = FMT.plural(len(wards), "ward") if wards else "the Medway outline (no wards loaded)"
    alt = f"Map of {areas} with {FMT.plural(len(cameras), 'camera')} coloured by lifecycle" + (
        f": {', '.join(parts)}." if parts else "."
    )
    return png, alt


def _context(
    request: Request,
    session: Session,
    *,
    settings: Any,
    who: Principal,
    span: QuarterRange,
    quarter: Quarter,
    error: str | None,
    now: datetime,
    for_pdf: bool,
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "fmt": FMT,
        "error": error,
        "quarter": quarter,
        "options": span.quarters(),
        "running": span.last,
        "for_pdf": for_pdf,
        "page_path": request.url_for("briefing_page").path,
        "pdf_path": request.url_for("briefing_pdf").path,
        "b": None,
        "who": who,
        # The fault categories that take the picture away (the camera is offline while open).
        "offline_categories": ", ".join(
            c.replace("_", " ") for c in lc.FAULT_CATEGORIES if c in lc.NO_PICTURE_CATEGORIES
        ),
    }
    if error is None:
        b = svc.briefing(session, quarter=quarter, settings=settings, now=now)
        png, alt = map_png(session)
        recs = b.recommendations
        context |= {
            "b": b,
            "map_src": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
            "map_alt": alt,
            "incident_period": period_sentence(recs.coverage),
            "window_days": settings.recommend_window_days,
            "today": london_day(now),
        }
    return context


def _page(
    request: Request, session: Session, settings: Any, quarter: str | None, *, for_pdf: bool
) -> tuple[Principal, dict[str, Any]]:
    who = page_user(request, session, *BRIEFING_READERS, what=WHAT)
    now = now_utc()
    span = svc.quarters(session, now=now)
    chosen, error = chosen_quarter(quarter, span, london_day(now))
    ctx = _context(
        request,
        session,
        settings=settings,
        who=who,
        span=span,
        quarter=chosen,
        error=error,
        now=now,
        for_pdf=for_pdf,
    )
    return who, ctx


QuarterQuery = Annotated[
    str | None, Query(description="The quarter, e.g. 2026Q3 (default: the last full quarter)")
]


@router.get("/briefing", response_class=HTMLResponse)
def briefing_page(
    request: Request, session: SessionDep, settings: SettingsDep, quarter: QuarterQuery = None
) -> Response:
    """The quarter's briefing as a page (print it on A4, or take the PDF)."""
    who, ctx = _page(request, session, settings, quarter, for_pdf=False)
    return render(request, TEMPLATE, ctx, who=who, status_code=422 if ctx["error"] else 200)


@router.get("/briefing.pdf")
def briefing_pdf(
    request: Request, session: SessionDep, settings: SettingsDep, quarter: QuarterQuery = None
) -> Response:
    """The quarter's briefing as a PDF (the page's own layout, A4); a bad quarter is a 422."""
    who, ctx = _page(request, session, settings, quarter, for_pdf=True)
    if ctx["error"]:
        raise InvalidInput(ctx["error"], errors=[{"field": "quarter", "message": ctx["error"]}])
    html = bytes(render(request, TEMPLATE, ctx, who=who).body).decode("utf-8")
    pdf = html_to_pdf(html, base_url=str(request.base_url), static_dir=STATIC_DIR)
    name = f"cctv-briefing-{ctx['quarter'].code}.pdf"
    return Response(
        pdf,
        media_type=PDF_MEDIA_TYPE,
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
