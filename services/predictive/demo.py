"""Demo data for the predictive service: agencies, Medway boundaries and lists to look at."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.predictive.agencies.service import district_outline, ensure_agencies, load_boundaries
from services.predictive.dates import LONDON, today_london
from services.predictive.lists.service import generate_for_all
from shared.incidents.models import Incident


def _after_latest_incident(session: Session) -> date | None:
    """First day of the month after the newest police crime (police files give only months)."""
    newest = select(func.max(Incident.occurred_at))
    latest = session.scalar(newest.where(Incident.source == "police")) or session.scalar(newest)
    if latest is None:
        return None
    d = latest.astimezone(LONDON).date()
    return date(d.year + d.month // 12, d.month % 12 + 1, 1)


def load_demo(session: Session, *, shared_data: Path) -> str:
    """Ensure both agencies and the Medway boundaries, and make lists (idempotent, quick).

    Lists are made for today and, since the real police files are historical, for the first
    day after the newest incident, where the data say something.
    """
    ensure_agencies(session)
    wards = shared_data / "boundaries" / "medway_wards_martinjc.geojson"
    lsoas = shared_data / "boundaries" / "medway_lsoa_martinjc.geojson"
    notes = []
    if district_outline(session) is not None:
        notes.append("boundaries already loaded")
    elif wards.is_file() and lsoas.is_file():
        n, _ = load_boundaries(session, wards_path=wards, outline_path=lsoas)
        notes.append(f"{n} wards and the Medway outline loaded")
    else:
        notes.append(f"no boundaries under {shared_data / 'boundaries'}")
    session.commit()
    days = dict.fromkeys([today_london(), _after_latest_incident(session)])
    for day in (d for d in days if d is not None):
        done = generate_for_all(session, day=day, generated_by="demo")
        made = sum(1 for _, _, created in done if created)
        notes.append(f"lists for {day}: {made} made, {len(done) - made} already there")
    return "; ".join(notes)
