"""Demo data for the hotspots service: one KDE run over the demo police incidents, and the
newest three months of anti-social behaviour compared with the three before them."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.hotspots.enums import RunStatus
from services.hotspots.limits import Limits
from services.hotspots.models import SurfaceRun
from services.hotspots.runs.execute import run_surface
from services.hotspots.runs.service import create_run
from services.hotspots.schemas import SurfaceCreate
from services.hotspots.settings import HotspotsSettings
from shared.errors import AppError
from shared.idempotency import scoped_key
from shared.incidents.models import Incident

DEMO_KEY = "demo-police-kde"
COMPARE_KEY = "demo-police-asb-compare"
ASB = "Anti-social behaviour"


def load_demo(session: Session, *, shared_data: Path) -> str:
    """One fast KDE run over the police incidents and one comparison, unless they exist."""
    settings = HotspotsSettings()
    limits = Limits.of(settings)
    done = session.scalar(
        select(SurfaceRun.id).where(
            # Keys are stored as digests of (caller, key): so a second load finds the demo run.
            SurfaceRun.idempotency_key == scoped_key("demo", DEMO_KEY),
            SurfaceRun.status == RunStatus.DONE,
        )
    )
    n = session.scalar(
        select(func.count()).select_from(Incident).where(Incident.source == "police")
    )
    if not n:
        return "no police incidents; no demo surface"
    if done is not None:
        said = f"demo surface run {done} already there"
    else:
        body = SurfaceCreate(method="fast", radius_m=300, cell_m=50, sources=["police"])
        run, _ = create_run(
            session, body=body, actor="demo", idempotency_key=DEMO_KEY, limits=limits
        )
        run = run_surface(session, run.id, output_dir=settings.output_dir, limits=limits)
        said = f"demo surface run {run.id}: {run.status} over {n} police incidents"
    return said + "; " + load_demo_comparison(session, settings=settings, limits=limits)


def _months_back(day: date, months: int) -> date:
    """The 1st of the month ``months`` before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def load_demo_comparison(session: Session, *, settings: HotspotsSettings, limits: Limits) -> str:
    """ASB in the newest three whole months of police data against the three before them."""
    from services.hotspots.comparisons.execute import run_comparison
    from services.hotspots.comparisons.schemas import ComparisonCreate
    from services.hotspots.comparisons.service import create_comparison
    from services.hotspots.runs.coverage import source_periods

    police = [p for p in source_periods(session, box=limits.allowed_box()) if p.source == "police"]
    if not police:
        return "no police data to compare"
    after_to = police[0].last_day
    after_from = _months_back(after_to, 2)
    before_from = _months_back(after_to, 5)
    if before_from < police[0].first_day:
        return "under six months of police data: no demo comparison"
    body = ComparisonCreate.model_validate(
        {
            "categories": [ASB],
            "sources": ["police"],
            "before": {"from": before_from, "to": after_from - timedelta(days=1)},
            "after": {"from": after_from, "to": after_to},
            "method": "fast",
            "radius_m": 400,
            "cell_m": 100,
        }
    )
    try:
        row, created = create_comparison(
            session, body=body, actor="demo", idempotency_key=COMPARE_KEY, limits=limits
        )
    except AppError as exc:
        return f"no demo comparison: {exc.detail}"
    if not created and row.status == RunStatus.DONE:
        return f"demo comparison {row.id} already there"
    row = run_comparison(session, row.id, output_dir=settings.output_dir, limits=limits)
    return f"demo comparison {row.id} (ASB, two quarters): {row.status}"
