"""A zoom-14 vector tile over central Medway with 100,000 incidents, against GeoJSON items.

Run: PYTHONPATH=. .venv/bin/python bench/bench_ogc_tiles.py [--incidents 100000] [--runs 200]
     [--geojson-runs 20] [--keep]

A scratch database, ``csp_tilesbench`` on the server of ``TEST_DATABASE_URL`` (default
postgresql+psycopg2://csp:csp@127.0.0.1:5433/csp_test), is migrated with ``alembic upgrade head``
and seeded with N incidents drawn from the real police points of ``../shared/data/police``
(data.police.uk, Medway, 2022-01 to 2022-09: the town centres are as dense as they really are),
each moved by a few metres so they do not all share the published map points. The hotspots
service runs in this process under uvicorn (real HTTP, a session per request) and is read
through keep-alive HTTP with an analyst's token:

- the MVT tile ``/ogc/collections/incidents/tiles/WebMercatorQuad/14/{y}/{x}`` over Chatham
  (analysts get the points from zoom 14), ``--runs`` times: p50, p95;
- the same again as an operator (counts per cell);
- the same tile's features from the GeoJSON items route, ``bbox`` = the tile's lon/lat bounds,
  every page of 1,000 (the route's most), ``--geojson-runs`` times: p50, p95 of the whole read.

Prints the figures, the ratio of the tile's p95 to the goal (50 ms) and the ratio GeoJSON / MVT.
Exit status 1 when the MVT p95 misses the goal. The database is dropped at the end.

Measured on the 2-core dev box (2026-12-02, other helpers' tests running alongside), tile
z14/5457/8215 (the tile holding Chatham's centre):

| read | features | bytes | runs | p50 ms | p95 ms |
|---|---|---|---|---|---|
| MVT, analyst (points) | 11,984 | 297,579 | 200 | 32.9 | 37.1 |
| MVT, operator (cells) | 63 | 1,920 | 200 | 11.5 | 16.0 |
| GeoJSON items, same bbox, all pages | 11,301 | - | 20 | 1259.2 | 1403.3 |

MVT p95 / goal 0.74x; GeoJSON p95 / MVT p95 37.8x. (The tile holds 683 more points than the
bbox: those in its 64-unit buffer.) Before JIT was turned off for tile queries and the affine
map replaced per-point ST_Transform, the same tile took p95 100.6 ms (points) and 456 ms (cells).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load.support import drop_database, recreate_database  # noqa: E402

BASE = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg2://csp:csp@127.0.0.1:5433/csp_test")
DB_NAME = "csp_tilesbench"
POLICE = ROOT.parent / "shared" / "data" / "police"
CHATHAM = (0.5270, 51.3810)
ZOOM = 14
GOAL_MS = 50.0


def bench_url() -> str:
    return BASE.rsplit("/", 1)[0] + "/" + DB_NAME


def admin_url() -> str:
    return BASE.rsplit("/", 1)[0] + "/postgres"


def police_points() -> list[tuple[float, float, str]]:
    """(lon, lat, crime type) of every placed row of the police files."""
    out = []
    for path in sorted(POLICE.glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row["Longitude"] and row["Latitude"]:
                    out.append((float(row["Longitude"]), float(row["Latitude"]), row["Crime type"]))
    return out


def seed(url: str, n: int) -> None:
    """N incidents drawn from the police points (seeded), moved by ~25 m, one import row."""
    import numpy as np
    from sqlalchemy import create_engine, text

    from shared.geometry import to_bng

    pts = police_points()
    rng = np.random.default_rng(17)
    pick = rng.integers(0, len(pts), n)
    lon = np.array([pts[i][0] for i in pick])
    lat = np.array([pts[i][1] for i in pick])
    xs, ys = to_bng(lon, lat)
    xs = xs + rng.normal(0, 25, n)
    ys = ys + rng.normal(0, 25, n)
    buf = io.StringIO()
    for k in range(n):
        month = 1 + k % 9
        buf.write(
            f"police\tbench-{k}\t{pts[pick[k]][2]}\t2022-{month:02d}-01T00:00:00+00:00\tmonth\t"
            f"SRID=27700;POINT({xs[k]:.2f} {ys[k]:.2f})\t1\t{{}}\n"
        )
    buf.seek(0)
    engine = create_engine(url)
    with engine.begin() as conn:
        imp = conn.execute(
            text(
                "INSERT INTO incidents.imports (source, file_name, sha256, finished_at, rows_read,"
                " rows_added, rows_existing, rows_rejected, errors, warnings) VALUES ('police', "
                "'bench', repeat('0', 64), now(), :n, :n, 0, 0, '[]', '[]') RETURNING id"
            ),
            {"n": n},
        ).scalar_one()
        cur = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        cur.copy_expert(
            "COPY incidents.incidents (source, source_id, category, occurred_at, time_precision,"
            " geom, weight, attributes) FROM STDIN",
            buf,
        )
        conn.execute(text("UPDATE incidents.incidents SET import_id = :i"), {"i": imp})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE incidents.incidents"))
    engine.dispose()


def tokens(url: str) -> dict[str, str]:
    from sqlalchemy.orm import Session

    from shared.auth import create_token
    from shared.db import make_engine

    engine = make_engine(url)
    out = {}
    with Session(engine) as session:
        for role in ("analyst", "operator"):
            _, clear = create_token(session, name=f"tilesbench {role}", role=role)
            out[role] = clear
        session.commit()
    engine.dispose()
    return out


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn: Any, runs: int, warmup: int = 5) -> tuple[list[float], Any]:
    for _ in range(warmup):
        fn()
    out, last = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        last = fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out, last


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--incidents", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--geojson-runs", type=int, default=20)
    ap.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = ap.parse_args()

    import httpx
    import mapbox_vector_tile
    import mercantile

    from tests.conftest import _reset_database
    from tests.support import service_app, serving

    url = bench_url()
    recreate_database(admin_url(), DB_NAME)
    try:
        _reset_database(url)
        t0 = time.perf_counter()
        seed(url, args.incidents)
        print(f"seeded {args.incidents:,} incidents in {time.perf_counter() - t0:.1f} s")
        tok = tokens(url)
        app = service_app("hotspots", url, log_level="WARNING")
        tile = mercantile.tile(*CHATHAM, ZOOM)
        path = f"/ogc/collections/incidents/tiles/WebMercatorQuad/{tile.z}/{tile.y}/{tile.x}"
        b = mercantile.bounds(tile)
        bbox = f"{b.west},{b.south},{b.east},{b.north}"
        with serving(app) as base, httpx.Client(base_url=base, timeout=60) as http:
            analyst = {"Authorization": f"Bearer {tok['analyst']}"}
            operator = {"Authorization": f"Bearer {tok['operator']}"}

            def mvt(headers: dict[str, str]) -> bytes:
                r = http.get(path, headers=headers)
                r.raise_for_status()
                return r.content

            def geojson() -> int:
                got, offset = 0, 0
                while True:
                    r = http.get(
                        "/ogc/collections/incidents/items",
                        params={"bbox": bbox, "limit": 1000, "offset": offset},
                        headers=analyst,
                    )
                    r.raise_for_status()
                    n = len(r.json()["features"])
                    got += n
                    offset += n
                    if n < 1000:
                        return got

            points_ms, data = timed(lambda: mvt(analyst), args.runs)
            layers = mapbox_vector_tile.decode(data)
            n_points = len(layers.get("incidents", {}).get("features", []))
            cells_ms, cdata = timed(lambda: mvt(operator), args.runs)
            cells = mapbox_vector_tile.decode(cdata)["incident_cells"]["features"]
            gj_ms, n_items = timed(geojson, args.geojson_runs, warmup=1)
        return report(args, tile, data, n_points, points_ms, cdata, cells, cells_ms, n_items, gj_ms)
    finally:
        if not args.keep:
            drop_database(admin_url(), DB_NAME)


def report(
    args: Any,
    tile: Any,
    data: bytes,
    n_points: int,
    points_ms: list[float],
    cdata: bytes,
    cells: list[Any],
    cells_ms: list[float],
    n_items: int,
    gj_ms: list[float],
) -> int:
    """Print the table and the ratios; 1 when the tile misses the goal."""
    p95 = pct(points_ms, 0.95)
    gj95 = pct(gj_ms, 0.95)
    print(f"tile z{tile.z}/{tile.y}/{tile.x} over Chatham, {args.incidents:,} incidents in all")
    print("| read | features | bytes | runs | p50 ms | p95 ms |")
    print("|---|---|---|---|---|---|")
    rows = [
        ("MVT, analyst (points)", n_points, len(data), points_ms),
        ("MVT, operator (cells)", len(cells), len(cdata), cells_ms),
        ("GeoJSON items, same bbox, all pages", n_items, 0, gj_ms),
    ]
    for name, n, size, ms in rows:
        size_text = f"{size:,}" if size else "-"
        print(
            f"| {name} | {n:,} | {size_text} | {len(ms)} | "
            f"{statistics.median(ms):.1f} | {pct(ms, 0.95):.1f} |"
        )
    print(f"MVT p95 / goal ({GOAL_MS:.0f} ms): {p95 / GOAL_MS:.2f}x")
    print(f"GeoJSON items p95 / MVT p95: {gj95 / p95:.1f}x (the tile is that much faster)")
    print(f"cells tile p95 / goal: {pct(cells_ms, 0.95) / GOAL_MS:.2f}x")
    return 0 if p95 <= GOAL_MS else 1


if __name__ == "__main__":
    raise SystemExit(main())
