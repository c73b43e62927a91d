"""The analyst map (/map) on the page kit and the shared session; the incident data's periods;
a window with no incidents and the one offered instead; hotspots with ward and grid reference."""

from __future__ import annotations

import csv
import html
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from shared import accounts
from tests.conftest import SHARED_DATA
from tests.factories import incident_row, store_incidents

JAN = SHARED_DATA / "police" / "2022-01-kent-street-medway.csv"
FEB = SHARED_DATA / "police" / "2022-02-kent-street-medway.csv"
WARDS = SHARED_DATA / "boundaries" / "medway_wards_martinjc.geojson"
PASSWORD = "correct horse battery"
# Road collisions on known days (exact times), around Chatham (EPSG:27700).
COLLISIONS = [
    datetime(2023, 3, 4, 8, 30, tzinfo=UTC),
    datetime(2023, 5, 17, 17, 5, tzinfo=UTC),
    datetime(2023, 6, 29, 23, 40, tzinfo=UTC),
]


@pytest.fixture()
def client(make_client: Any, tmp_path: Path) -> Any:
    return make_client("hotspots", output_dir=tmp_path)


@pytest.fixture()
def police(db_session: Any) -> None:
    from shared.incidents.store import import_file

    for f in (JAN, FEB):
        import_file(db_session, f, source="police")
    db_session.flush()


@pytest.fixture()
def collisions(db_session: Any) -> None:
    rows = [
        incident_row(
            occurred_at=t,
            xy=(575_800.0 + 40 * i, 168_200.0 + 30 * i),
            source="stats19",
            source_id=f"col-{i}",
            category="collision",
        )
        for i, t in enumerate(COLLISIONS)
    ]
    store_incidents(db_session, rows, source="stats19")


def person(db_session: Any, username: str, role: str, agency: str | None = None) -> str:
    accounts.create_user(
        db_session,
        username=username,
        role=role,
        agency=agency,
        full_name=username.title(),
        password=PASSWORD,
    )
    db_session.flush()
    return username


def sign_in(client: Any, username: str) -> None:
    """Sign in through the shared form, as a browser on this site would."""
    r = client.post(
        "/sign-in",
        data={"username": username, "password": PASSWORD, "next": "/map"},
        headers={"Origin": str(client.base_url)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def csrf_of(page_html: str) -> str:
    m = re.search(r'<meta name="csrf-token" content="([^"]+)">', page_html)
    assert m, "no csrf meta tag"
    return m.group(1)


def test_map_needs_an_analyst_or_seg(client: Any, db_session: Any, tokens: Any) -> None:
    r = client.get("/map")
    assert r.status_code == 401 and r.headers["content-type"].startswith("text/html")
    assert 'data-testid="signin-username"' in r.text and "next=%2Fmap" in r.text
    person(db_session, "cara.crew", "crew", agency="kfrs")
    sign_in(client, "cara.crew")
    r = client.get("/map")
    assert r.status_code == 403 and r.headers["content-type"].startswith("text/html")
    assert "The hotspot map needs the role admin or analyst or seg" in r.text
    client.cookies.clear()
    person(db_session, "sam.seg", "seg")
    sign_in(client, "sam.seg")
    r = client.get("/map")
    assert r.status_code == 200 and "Sam.Seg" in r.text
    # SEG may look but not start a run (POST /surfaces is for analysts).
    assert 'data-testid="no-run-role"' in r.text and 'id="new-run"' not in r.text
    client.cookies.clear()
    person(db_session, "ann.analyst", "analyst")
    sign_in(client, "ann.analyst")
    page = client.get("/map")
    assert page.status_code == 200
    for hook in (
        "run-source",
        "kde-category",
        "kde-start",
        "compare-start",
        "run-list",
        "open-map",
    ):
        assert f'data-testid="{hook}"' in page.text, hook
    # No token pasting and no browser storage: the session and the page's CSRF token only.
    assert '<script src="/map/map.js"></script>' in page.text
    script = client.get("/map/map.js")  # the page's script, for people signed in
    assert script.status_code == 200 and script.headers["content-type"].startswith(
        "text/javascript"
    )
    for text_ in (page.text, script.text):
        assert "localStorage" not in text_ and "Authorization" not in text_
        assert "innerHTML" not in text_ and "eval(" not in text_
    assert 'credentials: "same-origin"' in script.text and "X-CSRF-Token" in script.text
    assert csrf_of(page.text)
    # A script keeps its Bearer token.
    client.cookies.clear()
    assert client.get("/map").status_code == 401
    assert client.get("/map", headers=tokens["analyst"]).status_code == 200


def _police_rows(path: Path) -> int:
    with path.open(newline="", encoding="utf-8") as f:
        return sum(1 for row in csv.DictReader(f) if row["Longitude"].strip())


def test_the_page_says_what_period_each_source_covers(
    client: Any, db_session: Any, police: None, collisions: None
) -> None:
    person(db_session, "ann.analyst", "analyst")
    sign_in(client, "ann.analyst")
    page = client.get("/map").text
    police_li = re.search(r'data-testid="period-police">(.*?)</li>', page, re.S)
    road_li = re.search(r'data-testid="period-stats19">(.*?)</li>', page, re.S)
    assert police_li and road_li
    police_text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", police_li.group(1))).split())
    road_text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", road_li.group(1))).split())
    # Monthly data cover to the end of their newest month.
    n = _police_rows(JAN) + _police_rows(FEB)
    assert police_text == (
        f"Crime and ASB up to 28 February 2022 (from 1 January 2022; {n:,} incidents; "
        "recorded by month, each dated the 1st)"
    )
    assert road_text == "Road collisions up to 29 June 2023 (from 4 March 2023; 3 incidents)"
    # Police first (the registry's order), then road collisions.
    assert page.index("period-police") < page.index("period-stats19")


def test_empty_store_says_so(client: Any, db_session: Any) -> None:
    person(db_session, "ann.analyst", "analyst")
    sign_in(client, "ann.analyst")
    page = client.get("/map").text
    assert 'data-testid="no-data"' in page and "No incident data has been imported yet" in page


def test_coverage_window_and_the_window_offered(
    client: Any, tokens: Any, db_session: Any, police: None, collisions: None
) -> None:
    a = tokens["analyst"]
    jan_sql = db_session.scalar(
        text(
            "SELECT count(*) FROM incidents.incidents WHERE source = 'police' "
            "AND occurred_at >= '2022-01-01' AND occurred_at < '2022-02-01'"
        )
    )
    assert jan_sql == _police_rows(JAN) > 1000
    r = client.get(
        "/incidents/coverage",
        params={"from": "2022-01-01", "to": "2022-01-31", "sources": "police"},
        headers=a,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["window"]["incidents"] == jan_sql
    assert body["window"]["suggested_from"] is None
    periods = {p["source"]: p for p in body["sources"]}
    assert periods["police"]["last_day"] == "2022-02-28"
    assert periods["police"]["newest_day"] == "2022-02-01" and periods["police"]["by_month"]
    assert periods["stats19"]["last_day"] == "2023-06-29" and not periods["stats19"]["by_month"]

    # Mid-month days hold no monthly data: the newest police day is 1 February 2022, and the
    # window offered has the same length (10 days) and ends on it.
    empty = {"from": "2022-02-10", "to": "2022-02-19", "sources": "police"}
    w = client.get("/incidents/coverage", params=empty, headers=a).json()["window"]
    assert w["incidents"] == 0 and w["newest_day"] == "2022-02-01"
    assert (w["suggested_from"], w["suggested_to"]) == ("2022-01-23", "2022-02-01")
    # What the page says matches what a run meets: the empty window is a 422, the offered one
    # holds February (dated the 1st) and starts.
    run_body = {"method": "fast", "cell_m": 200, "radius_m": 400, "sources": ["police"]}
    bad = client.post(
        "/surfaces", json=run_body | {"from": "2022-02-10", "to": "2022-02-19"}, headers=a
    )
    assert bad.status_code == 422 and "no incidents match" in bad.text
    offered = {"from": w["suggested_from"], "to": w["suggested_to"]}
    good = client.post("/surfaces", json=run_body | offered, headers=a)
    assert good.status_code == 202, good.text
    feb_sql = db_session.scalar(
        text("SELECT count(*) FROM incidents.incidents WHERE occurred_at = '2022-02-01T00:00Z'")
    )
    assert good.json()["stats"]["incidents"] == feb_sql == _police_rows(FEB)

    # Road collisions after the newest one: 7 days ending on 29 June 2023.
    later = {"from": "2024-01-01", "to": "2024-01-07", "sources": "stats19"}
    w = client.get("/incidents/coverage", params=later, headers=a).json()["window"]
    assert (w["incidents"], w["suggested_from"], w["suggested_to"]) == (
        0,
        "2023-06-23",
        "2023-06-29",
    )
    # An open-ended window: 90 days ending on the newest day of all sources.
    w = client.get("/incidents/coverage", params={"from": "2030-01-01"}, headers=a).json()
    newest = date(2023, 6, 29)
    assert w["window"]["suggested_from"] == (newest - timedelta(days=89)).isoformat()
    # A category that no source has: nothing anywhere, no window to offer.
    w = client.get("/incidents/coverage", params={"categories": "Piracy"}, headers=a).json()
    assert w["window"]["incidents"] == 0 and w["window"]["newest_day"] is None
    assert w["window"]["suggested_from"] is None


def test_coverage_refuses_bad_filters(client: Any, tokens: Any) -> None:
    a = tokens["crew"]
    r = client.get(
        "/incidents/coverage", params={"from": "2022-02-01", "to": "2022-01-01"}, headers=a
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "to"
    r = client.get("/incidents/coverage", params={"sources": "nope"}, headers=a)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "sources"
    assert client.get("/incidents/coverage").status_code == 401


def test_session_starts_a_run_and_opens_its_map(client: Any, db_session: Any, police: None) -> None:
    person(db_session, "ann.analyst", "analyst")
    sign_in(client, "ann.analyst")
    token = csrf_of(client.get("/map").text)
    body = {
        "method": "fast",
        "cell_m": 150,
        "radius_m": 400,
        "from": "2022-01-01",
        "to": "2022-01-31",
    }
    origin = {"Origin": str(client.base_url)}
    # The cookie alone is not enough for a change: the page's CSRF token must come with it.
    assert client.post("/surfaces", json=body, headers=origin).status_code == 403
    r = client.post("/surfaces", json=body, headers=origin | {"X-CSRF-Token": token})
    assert r.status_code == 202, r.text
    run = r.json()
    assert run["status"] == "done" and run["created_by"].startswith("Ann.Analyst")
    m = client.get(f"/surfaces/{run['id']}/map")
    assert m.status_code == 200 and m.headers["content-type"].startswith("text/html")
    doc = m.text
    assert (
        '<html lang="en-GB">' in doc and f"<title>Run {run['id']}: KDE: hotspot map</title>" in doc
    )
    assert "user-scalable=no" not in doc and "maximum-scale" not in doc
    assert "data:image/png;base64" in doc
    # Signed out, the map is refused (problem+json, an API route).
    client.cookies.clear()
    assert client.get(f"/surfaces/{run['id']}/map").status_code == 401


def _wards_of(points_bng: list[tuple[float, float]]) -> list[str | None]:
    """Ward names from the boundary file itself (shapely, WGS84), not from the database."""
    from shapely.geometry import Point, shape

    from shared.geometry import point_to_wgs84

    fc = json.loads(WARDS.read_text(encoding="utf-8"))
    wards = [(f["properties"]["WD13NM"], shape(f["geometry"])) for f in fc["features"]]
    out: list[str | None] = []
    for x, y in points_bng:
        p = Point(*point_to_wgs84(x, y))
        out.append(next((name for name, g in wards if g.covers(p)), None))
    return out


def test_polygons_carry_ward_and_grid_reference_of_their_centroid(
    client: Any, tokens: Any, db_session: Any, police: None
) -> None:
    from shared.boundaries.layers import Layer
    from shared.boundaries.service import load_layer
    from shared.osgrid import grid_ref

    load_layer(db_session, WARDS, layer=Layer.WARD)
    a = tokens["analyst"]
    run = client.post(
        "/surfaces", json={"method": "fast", "cell_m": 100, "radius_m": 300}, headers=a
    )
    assert run.status_code == 202, run.text
    run_id = run.json()["id"]
    fc = client.get(f"/surfaces/{run_id}/polygons", headers=a).json()
    assert len(fc["features"]) >= 3
    # Centroids computed by PostGIS from the stored polygons (the service uses shapely).
    rows = db_session.execute(
        text(
            "SELECT rank, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) "
            "FROM hotspots.hotspot_polygons WHERE run_id = :r"
        ),
        {"r": run_id},
    ).all()
    by_rank = {r[0]: (r[1], r[2]) for r in rows}
    wards = dict(zip(by_rank, _wards_of(list(by_rank.values())), strict=True))
    for f in fc["features"]:
        p = f["properties"]
        x, y = by_rank[p["rank"]]
        assert p["centroid_x_27700"] == pytest.approx(x, abs=0.1)
        assert p["centroid_y_27700"] == pytest.approx(y, abs=0.1)
        assert p["grid_ref"] == grid_ref(x, y)
        # Medway is in the TQ square: eastings 5xx,xxx and northings 1xx,xxx.
        assert p["grid_ref"] == f"TQ {int(x) % 100_000 // 10:04d} {int(y) % 100_000 // 10:04d}"
        assert p["ward"] == wards[p["rank"]]
    assert sum(1 for w in wards.values() if w) >= 3  # the hotspots are in Medway's wards
    # The run's standalone map carries each hotspot's ward and grid reference as data.
    doc = client.get(f"/surfaces/{run_id}/map", headers=a).text
    block = re.search(r'<script type="application/json" id="csp-map-data">(.*?)</script>', doc)
    assert block
    entries = json.loads(block.group(1))["features"][0]["entries"]
    top = fc["features"][0]["properties"]
    tip = json.dumps(entries[str(top["rank"])]["tooltip"], ensure_ascii=False)
    assert f"{top['ward']} · {top['grid_ref']}" in tip and f"Hotspot {top['rank']}" in tip


@pytest.mark.parametrize(
    ("tile_url", "expect"),
    [
        ("", None),
        ("https://tiles.partnership.example/{z}/{x}/{y}.png", "tiles.partnership.example"),
        ("/tiles/{z}/{x}/{y}.png", "/tiles/{z}/{x}/{y}.png"),
    ],
    ids=["no-tiles", "own-server", "same-site"],
)
def test_run_map_tiles_follow_the_setting(
    make_client: Any, tmp_path: Path, tokens: Any, police: None, tile_url: str, expect: str | None
) -> None:
    client = make_client("hotspots", output_dir=tmp_path, tile_url=tile_url)
    a = tokens["analyst"]
    run = client.post(
        "/surfaces", json={"method": "fast", "cell_m": 200, "radius_m": 400}, headers=a
    )
    doc = client.get(f"/surfaces/{run.json()['id']}/map", headers=a).text
    assert "tile.openstreetmap.org" not in doc  # the default is not used behind the setting
    layers = re.findall(r"L\.tileLayer\(\s*\"([^\"]+)\"", doc)
    assert layers == ([] if expect is None else [tile_url])
    # The suite's own context is drawn with or without tiles.
    assert "/static/csp/context.js" in doc and "CSP_CONTEXT" in doc


def test_incident_text_reaches_the_page_only_as_data(client: Any, db_session: Any) -> None:
    """A category from an incident file is JSON in a data block, never markup or template."""
    hostile = '</script><img src=x onerror="window.__pwned=1">{{ 7*7 }}{% raw %}'
    row = incident_row(
        occurred_at=datetime(2023, 1, 5, tzinfo=UTC),
        xy=(575_800.0, 168_200.0),
        source="fire",
        source_id="hostile-1",
        category=hostile,
    )
    store_incidents(db_session, [row], source="fire")
    person(db_session, "ann.analyst", "analyst")
    sign_in(client, "ann.analyst")
    page = client.get("/map")
    assert page.status_code == 200
    assert hostile not in page.text and "<img src=x" not in page.text
    block = re.search(
        r'<script type="application/json" id="hotspots-data">(.*?)</script>', page.text, re.S
    )
    assert block
    assert json.loads(block.group(1))["categories"]["fire"] == [[hostile, 1]]
    # Nowhere else on the page, and not run as a template ({{ 7*7 }} kept verbatim).
    rest = page.text.replace(block.group(0), "")
    assert "onerror" not in rest and "7*7" not in rest


def test_every_incident_source_has_a_plain_name() -> None:
    from services.hotspots.runs.coverage import SOURCE_LABELS, source_label
    from shared.incidents.registry import SOURCES

    assert set(SOURCE_LABELS) == set(SOURCES)
    assert all(source_label(s) and source_label(s) != s for s in SOURCES)
