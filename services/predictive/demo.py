"""Demo data for the predictive service: agencies, Medway boundaries and lists to look at."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from services.predictive.agencies.service import district_outline, ensure_agencies, load_boundaries
from services.predictive.dates import today_london
from services.predictive.lists.period import agency_period
from services.predictive.lists.service import generate_for_all, get_or_create_list
from shared.errors import InvalidInput
from shared.extent import GridTooLarge
from shared.incidents.models import Incident

log = logging.getLogger("csp.predictive")


def crews_page(agency: str, day: date) -> str:
    """The path of an agency's list page for a day."""
    return "/targets/page?" + urlencode({"agency": agency, "date": day.isoformat()})


def newest_data_days(session: Session) -> dict[str, date]:
    """Per agency, the newest day whose list can use all of its main source's incidents.

    The main source is the one holding most of the agency's incidents (the police months in the
    demo): a handful of recent demo incidents in view of cameras would otherwise put the crews'
    demo list on a day trained on eight incidents. At most today.
    """
    out = {}
    for agency in ensure_agencies(session):
        main = session.execute(
            select(Incident.source)
            .where(Incident.category.in_(list(agency.categories)))
            .group_by(Incident.source)
            .order_by(func.count().desc(), Incident.source)
            .limit(1)
        ).scalar()
        period = agency_period(session, agency=agency, source=main)
        if period.next_day is not None:
            out[agency.code] = min(period.next_day, today_london())
    return out


def load_demo(session: Session, *, shared_data: Path) -> str:
    """Ensure both agencies and the Medway boundaries, and make lists (idempotent, quick).

    Lists are made for today and, since the real police files are historical, for each
    agency's newest day with incident data; the message names those pages, where the crews'
    lists say something.
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
    today = today_london()
    done = generate_for_all(session, day=today, generated_by="demo")
    made = sum(1 for _, _, created in done if created)
    notes.append(f"lists for {today}: {made} made, {len(done) - made} already there")
    pages = []
    for code, day in newest_data_days(session).items():
        try:
            _, created = get_or_create_list(session, agency_code=code, day=day, generated_by="demo")
        except (InvalidInput, GridTooLarge) as exc:
            session.rollback()
            log.error("no demo list for %s on %s: %s", code, day, exc)
            continue
        if day != today:
            notes.append(f"{code} list for {day} (newest day with data) {_state(created)}")
        pages.append(crews_page(code, day))
    if pages:
        notes.append("crews' lists with data: " + " ".join(pages))
    return "; ".join(notes)


def _state(created: bool) -> str:
    return "made" if created else "already there"
