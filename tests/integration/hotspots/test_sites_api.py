"""Road-casualty sites, the water-safety register and the OGC API over the real PostGIS."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from shapely.geometry import LineString, Point, shape

from shared.geometry import to_wgs84
from tests.fixtures.make_stats19 import cluster, make_collisions_csv


@pytest.fixture()
def client(make_client: Any, tmp_path: Path) -> Any:
    return make_client("hotspots", output_dir=tmp_path)


@pytest.fixture()
def collisions(db_session: Any, tmp_path: Path) -> tuple[float, float]:
    from shared.incidents.store import import_file

    cx, cy = 576_500.0, 167_500.0
    rows = cluster(cx, cy, 6, radius_m=20, seed=3) + cluster(578_000, 169_000, 2, seed=4)
    path = make_collisions_csv(tmp_path / "collisions.csv", rows, n=40, seed=7)
    import_file(db_session, path, source="stats19")
    db_session.flush()
    return cx, cy


def test_road_sites_from_stats19_in_the_db(client: Any, tokens: Any, collisions: Any) -> None:
    cx, cy = collisions
    r = client.get("/sites/road?min_collisions=4&radius_m=50&years=3", headers=tokens["seg"])
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    fc = r.json()
    assert fc["parameters"]["min_collisions"] == 4 and fc["parameters"]["collisions"] == 48
    lon, lat = to_wgs84(cx, cy)
    hits = [f for f in fc["features"] if shape(f["geometry"]).contains(Point(lon, lat))]
    assert len(hits) == 1
    assert hits[0]["properties"]["n_collisions"] >= 6
    # The two-collision cluster is below the threshold: no site contains it.
    lon2, lat2 = to_wgs84(578_000, 169_000)
    assert not any(shape(f["geometry"]).contains(Point(lon2, lat2)) for f in fc["features"])
    # Raising N above the cluster's size removes it.
    none = client.get("/sites/road?min_collisions=50", headers=tokens["seg"]).json()
    assert none["features"] == []
    bad = client.get("/sites/road?radius_m=-1", headers=tokens["seg"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].endswith("radius_m")

    ogc = client.get(
        "/ogc/collections/road-sites/items?min_collisions=4", headers=tokens["seg"]
    ).json()
    assert ogc["numberMatched"] == len(fc["features"])
    assert (
        client.get("/ogc/collections/road-sites/items?years=abc", headers=tokens["seg"]).status_code
        == 400
    )


def _water_csv(path: Path, rows: list[tuple[str, str, float, float, str]]) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "timestamp", "longitude", "latitude", "category", "severity"])
        for ident, when, x, y, sev in rows:
            lon, lat = to_wgs84(x, y)
            w.writerow([ident, when, f"{float(lon):.7f}", f"{float(lat):.7f}", "water_rescue", sev])
    return path


def test_water_sites_counts_and_density(
    client: Any, tokens: Any, db_session: Any, tmp_path: Path
) -> None:
    from shared.incidents.store import import_file

    ap = (575_000.0, 169_000.0)
    bank = LineString([(576_000, 169_000), (577_000, 169_000)])
    rows = [
        ("a1", "2023-01-10T10:00:00Z", ap[0] + 10, ap[1], "fatal"),
        ("a2", "2023-02-10T10:00:00Z", ap[0], ap[1] + 30, "minor"),
        ("a3", "2023-05-10T10:00:00Z", ap[0] - 20, ap[1], "minor"),
        ("far", "2023-05-10T10:00:00Z", ap[0] + 2000, ap[1] + 2000, "minor"),
    ] + [(f"b{i}", "2023-07-01T10:00:00Z", 576_500 + i * 5.0, 169_020, "serious") for i in range(5)]
    import_file(db_session, _water_csv(tmp_path / "water.csv", rows), source="water")
    db_session.flush()

    lon, lat = to_wgs84(*ap)
    r = client.post(
        "/water/sites",
        headers=tokens["analyst"],
        json={
            "name": "Strood pier steps",
            "kind": "access_point",
            "geometry": {"type": "Point", "coordinates": [float(lon), float(lat)]},
        },
    )
    assert r.status_code == 201, r.text
    point_id = r.json()["id"]
    coords = [list(map(float, to_wgs84(x, y))) for x, y in bank.coords]
    r = client.post(
        "/water/sites",
        headers=tokens["admin"],
        json={
            "name": "Esplanade bank",
            "kind": "bank_stretch",
            "geometry": {"type": "LineString", "coordinates": coords},
        },
    )
    assert r.status_code == 201, r.text
    bank_id = r.json()["id"]

    assert (
        client.post(
            "/water/sites",
            headers=tokens["crew"],
            json={
                "name": "x",
                "kind": "access_point",
                "geometry": {"type": "Point", "coordinates": [0.5, 51.4]},
            },
        ).status_code
        == 403
    )
    bad = client.post(
        "/water/sites",
        headers=tokens["analyst"],
        json={
            "name": "x",
            "kind": "bank_stretch",
            "geometry": {"type": "Point", "coordinates": [0.5, 51.4]},
        },
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "geometry"

    fc = client.get("/water/sites", headers=tokens["crew"]).json()
    assert {f["properties"]["name"] for f in fc["features"]} >= {
        "Strood pier steps",
        "Esplanade bank",
    }

    c = client.get(f"/water/sites/{point_id}/counts?period=quarter", headers=tokens["crew"])
    assert c.status_code == 200, c.text
    body = c.json()
    assert body["total"] == 3
    assert body["by_severity"]["fatal"] == 1 and body["by_severity"]["minor"] == 2
    assert body["by_period"]["2023-Q1"]["minor"] == 1 and body["by_period"]["2023-Q2"]["minor"] == 1
    cb = client.get(f"/water/sites/{bank_id}/counts?period=year", headers=tokens["crew"]).json()
    assert cb["total"] == 5 and cb["by_period"]["2023"]["serious"] == 5

    d = client.get(
        f"/water/sites/{bank_id}/density?bandwidth_m=100&step_m=10", headers=tokens["crew"]
    )
    assert d.status_code == 200, d.text
    dens = d.json()
    dist = np.array(dens["distance_m"])
    val = np.array(dens["density_per_km"])
    assert dist[-1] == pytest.approx(1000.0, abs=0.5)
    # Density integrates (per km x km) to the 5 incidents, all far from the ends of the bank.
    assert np.trapezoid(val, dist / 1000.0) == pytest.approx(5.0, rel=0.02)
    assert 500 <= dist[int(np.argmax(val))] <= 520
    pd = client.get(f"/water/sites/{point_id}/density", headers=tokens["crew"])
    assert pd.status_code == 422

    ogc = client.get(
        "/ogc/collections/water-sites/items?kind=bank_stretch", headers=tokens["operator"]
    ).json()
    assert [f["properties"]["name"] for f in ogc["features"]] == ["Esplanade bank"]
    assert client.get("/water/sites/999999/counts", headers=tokens["crew"]).status_code == 404


def test_ogc_hotspots_collection(client: Any, tokens: Any, db_session: Any) -> None:
    from shared.incidents.store import import_file
    from tests.conftest import SHARED_DATA

    import_file(
        db_session, SHARED_DATA / "police" / "2022-03-kent-street-medway.csv", source="police"
    )
    db_session.flush()
    h = tokens["analyst"]
    run = client.post("/surfaces", json={"radius_m": 300, "cell_m": 100}, headers=h).json()
    polys = client.get(f"/surfaces/{run['id']}/polygons", headers=h).json()
    land = client.get("/ogc", headers=h)
    assert land.status_code == 200
    colls = client.get("/ogc/collections", headers=h).json()
    ids = {c["id"] for c in colls["collections"]}
    # The three collections, and each finished run as its own (#17: ?run=N for clients that
    # cannot pass it).
    assert ids == {
        "hotspots",
        "road-sites",
        "water-sites",
        "incidents",
        f"hotspots-run-{run['id']}",
    }
    items = client.get(f"/ogc/collections/hotspots/items?run={run['id']}&limit=2", headers=h)
    assert items.status_code == 200 and items.headers["content-type"] == "application/geo+json"
    page = items.json()
    assert page["numberMatched"] == len(polys["features"]) and page["numberReturned"] <= 2
    latest = client.get("/ogc/collections/hotspots/items", headers=h).json()
    assert {f["properties"]["run"] for f in latest["features"]} == {run["id"]}
    first = page["features"][0]
    one = client.get(f"/ogc/collections/hotspots/items/{first['id']}", headers=h).json()
    assert one["properties"]["rank"] == 1
    assert shape(one["geometry"]).equals_exact(shape(polys["features"][0]["geometry"]), 1e-6)
    # A bbox away from every polygon matches nothing.
    far = client.get("/ogc/collections/hotspots/items?bbox=-3,50,-2.9,50.1", headers=h).json()
    assert far["numberMatched"] == 0


def test_ogc_water_sites_page_filter_bbox_item_and_extent(client: Any, tokens: Any) -> None:
    """The table-driven source: counts, pages in id order, filters, bbox, one item, extent."""
    h = tokens["analyst"]
    points = [(0.50, 51.39), (0.52, 51.40), (0.56, 51.41)]
    ids = []
    for i, (lon, lat) in enumerate(points):
        r = client.post(
            "/water/sites",
            headers=h,
            json={
                "name": f"steps {i}",
                "kind": "access_point",
                "notes": f"note {i}",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
            },
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    r = client.post(
        "/water/sites",
        headers=h,
        json={
            "name": "bank",
            "kind": "bank_stretch",
            "geometry": {"type": "LineString", "coordinates": [[0.53, 51.38], [0.54, 51.385]]},
        },
    )
    bank_id = r.json()["id"]
    url = "/ogc/collections/water-sites/items"

    page = client.get(f"{url}?limit=2&offset=1", headers=h).json()
    assert page["numberMatched"] == 4 and page["numberReturned"] == 2
    assert [f["id"] for f in page["features"]] == [ids[1], ids[2]]
    assert page["features"][0]["properties"] == {
        "name": "steps 1",
        "kind": "access_point",
        "notes": "note 1",
    }
    assert page["features"][0]["geometry"] == {"type": "Point", "coordinates": [0.52, 51.4]}

    points_only = client.get(f"{url}?kind=access_point", headers=h).json()
    assert [f["id"] for f in points_only["features"]] == ids
    # A box around the second and third points only (lon 0.51..0.57, lat 51.395..51.42).
    boxed = client.get(f"{url}?bbox=0.51,51.395,0.57,51.42", headers=h).json()
    assert [f["id"] for f in boxed["features"]] == [ids[1], ids[2]]
    both = client.get(f"{url}?bbox=0.51,51.37,0.57,51.42&kind=bank_stretch", headers=h).json()
    assert [f["id"] for f in both["features"]] == [bank_id]

    one = client.get(f"{url}/{bank_id}", headers=h).json()
    assert one["geometry"]["coordinates"] == [[0.53, 51.38], [0.54, 51.385]]
    for bad in ("abc", "²", "99999999999", "0"):
        assert client.get(f"{url}/{bad}", headers=h).status_code == 404

    doc = client.get("/ogc/collections/water-sites", headers=h).json()
    (bbox,) = doc["extent"]["spatial"]["bbox"]
    assert bbox == pytest.approx([0.50, 51.38, 0.56, 51.41], abs=1e-6)
