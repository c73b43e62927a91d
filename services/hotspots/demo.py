"""Demo data for the hotspots service: one KDE run over the demo police incidents."""

from __future__ import annotations

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
from shared.incidents.models import Incident

DEMO_KEY = "demo-police-kde"


def load_demo(session: Session, *, shared_data: Path) -> str:
    """Compute one fast KDE run over the police incidents unless the demo run exists (quick)."""
    done = session.scalar(
        select(SurfaceRun.id).where(
            SurfaceRun.idempotency_key == f"demo:{DEMO_KEY}", SurfaceRun.status == RunStatus.DONE
        )
    )
    if done is not None:
        return f"demo surface run {done} already there"
    n = session.scalar(
        select(func.count()).select_from(Incident).where(Incident.source == "police")
    )
    if not n:
        return "no police incidents; no demo surface"
    body = SurfaceCreate(method="fast", radius_m=300, cell_m=50, sources=["police"])
    settings = HotspotsSettings()
    limits = Limits.of(settings)
    run, _ = create_run(session, body=body, actor="demo", idempotency_key=DEMO_KEY, limits=limits)
    run = run_surface(session, run.id, output_dir=settings.output_dir, limits=limits)
    return f"demo surface run {run.id}: {run.status} over {n} police incidents"
