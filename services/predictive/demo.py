"""Demo data for the predictive service: agencies, Medway boundaries and today's lists."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session

from services.predictive import service


def load_demo(session: Session, *, shared_data: Path) -> str:
    """Ensure both agencies, load the Medway wards and outline, make today's lists (idempotent)."""
    service.ensure_agencies(session)
    wards = shared_data / "boundaries" / "medway_wards_martinjc.geojson"
    lsoas = shared_data / "boundaries" / "medway_lsoa_martinjc.geojson"
    notes = []
    if wards.is_file() and lsoas.is_file():
        if service.district_outline(session) is None:
            n, _ = service.load_boundaries(session, wards_path=wards, outline_path=lsoas)
            notes.append(f"{n} wards and the Medway outline loaded")
        else:
            notes.append("boundaries already loaded")
    else:
        notes.append(f"no boundaries under {shared_data / 'boundaries'}")
    session.commit()
    done = service.generate_for_all(session, day=service.today_london(), generated_by="demo")
    made = sum(1 for _, _, created in done if created)
    notes.append(f"today's lists: {made} made, {len(done) - made} already there")
    return "; ".join(notes)
