"""Fixtures for the predictive service: Medway boundaries and synthetic incidents in PostGIS."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from tests.conftest import SHARED_DATA

WARDS = SHARED_DATA / "boundaries" / "medway_wards_martinjc.geojson"
LSOAS = SHARED_DATA / "boundaries" / "medway_lsoa_martinjc.geojson"
LIST_DAY = date(2024, 5, 1)
# Town centres inside Medway (lon, lat): Chatham, Gillingham, Strood, Rainham, Rochester.
CENTRES = [
    (0.5270, 51.3830),
    (0.5490, 51.3880),
    (0.4850, 51.3940),
    (0.6110, 51.3620),
    (0.5040, 51.3880),
]


def synthetic_incidents(
    *,
    source: str,
    categories: list[str],
    month_only: bool,
    n_days: int = 150,
    end: date = LIST_DAY,
    seed: int = 7,
) -> list[Any]:
    """Self-exciting incidents in 40 boxes around Medway's town centres, before ``end``."""
    from services.predictive.compute.simulate import simulate_grid_etas
    from shared.geometry import point_to_bng, to_wgs84
    from shared.incidents.parsers.results import IncidentRow

    rng = np.random.default_rng(seed)
    spots = []
    for lon, lat in CENTRES:
        x, y = point_to_bng(lon, lat)
        for _ in range(8):
            spots.append((x + rng.normal(0, 600), y + rng.normal(0, 600)))
    mu = rng.uniform(0.02, 0.12, len(spots))
    t_end = (datetime.combine(end, datetime.min.time(), tzinfo=UTC).timestamp() / 86400) - 0.5
    cells, t = simulate_grid_etas(mu, 0.4, 0.5, t_end, rng, t_start_days=t_end - n_days)
    xs = np.array([spots[c][0] for c in cells]) + rng.uniform(-60, 60, cells.size)
    ys = np.array([spots[c][1] for c in cells]) + rng.uniform(-60, 60, cells.size)
    lon, lat = to_wgs84(xs, ys)
    rows = []
    for i in range(cells.size):
        when = datetime.fromtimestamp(float(t[i]) * 86400, tz=UTC)
        if month_only:
            when = when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        rows.append(IncidentRow(
            source, f"syn-{source}-{seed}-{i}", categories[i % len(categories)], when,
            "month" if month_only else "exact", float(lon[i]), float(lat[i]), float(xs[i]),
            float(ys[i]), 1.0, {},
        ))  # fmt: skip
    return rows


def store_rows(session: Any, rows: list[Any], *, source: str) -> None:
    """Insert incident rows through the shared store (as an import would)."""
    from shared.incidents.parsers.results import ParseResult
    from shared.incidents.store import store_result

    store_result(
        session, ParseResult(rows, [], "synthetic.csv", len(rows)), source=source, sha256="0" * 64
    )
    session.flush()


@pytest.fixture()
def medway(db_session: Any) -> Any:
    """The real Medway wards and outline loaded, and both agencies created."""
    from services.predictive.agencies import service as agencies

    agencies.load_boundaries(db_session, wards_path=WARDS, outline_path=LSOAS)
    agencies.ensure_agencies(db_session)
    db_session.flush()
    return db_session


@pytest.fixture()
def incidents(medway: Any) -> dict[str, list[Any]]:
    """Fire-service incidents with exact times and police crimes with month-only times."""
    fire = synthetic_incidents(
        source="fire",
        categories=["deliberate_fire", "Criminal damage and arson"],
        month_only=False,
        seed=3,
    )
    police = synthetic_incidents(
        source="police",
        categories=["Burglary", "Vehicle crime"],
        month_only=True,
        n_days=270,
        seed=5,
    )
    store_rows(medway, fire, source="fire")
    store_rows(medway, police, source="police")
    return {"fire": fire, "police": police}


@pytest.fixture()
def make_list(db_session: Any) -> Callable[..., Any]:
    """Store (agency, day)'s list as the nightly job does (GETs only read stored lists)."""
    from services.predictive.lists import service as lists

    def make(agency: str, day: date = LIST_DAY, force: bool = False) -> Any:
        view, _ = lists.get_or_create_list(
            db_session, agency_code=agency, day=day, generated_by="nightly", force=force
        )
        return view

    return make


def today() -> date:
    """Today in Medway (the list date a visit logged 'now' may count for)."""
    from services.predictive.dates import today_london

    return today_london()


@pytest.fixture()
def today_list(medway: Any, make_list: Callable[..., Any]) -> Any:
    """Fire incidents over the 150 days before today, and kfrs's list for today."""
    rows = synthetic_incidents(
        source="fire", categories=["deliberate_fire"], month_only=False, end=today(), seed=13
    )
    store_rows(medway, rows, source="fire")
    return make_list("kfrs", today())


@pytest.fixture()
def client(make_client: Callable[..., Any], incidents: Any) -> Any:
    """The predictive app on the rolled-back session, with incidents and boundaries."""
    return make_client("predictive")


def day_after(d: date, n: int = 1) -> date:
    """The date ``n`` days after ``d``."""
    return d + timedelta(days=n)
