"""`csp hotspots` on file inputs (no database): kde, gistar, sites, evaluate and error lines."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.conftest import SHARED_DATA
from tests.fixtures.make_stats19 import cluster, make_collisions_csv

POLICE = SHARED_DATA / "police"
JAN = POLICE / "2022-01-kent-street-medway.csv"
FEB = POLICE / "2022-02-kent-street-medway.csv"
runner = CliRunner()


def _app():  # type: ignore[no-untyped-def]
    from services.hotspots.cli import app

    return app


def _police_xy(path: Path, category: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Independent read of a police CSV: lon/lat to EPSG:27700 with pyproj."""
    import csv

    from pyproj import Transformer

    lon, lat = [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["Longitude"] and (category is None or row["Crime type"] == category):
                lon.append(float(row["Longitude"]))
                lat.append(float(row["Latitude"]))
    x, y = Transformer.from_crs(4326, 27700, always_xy=True).transform(lon, lat)
    return np.asarray(x), np.asarray(y)


def test_kde_writes_cog_polygons_and_map(tmp_path: Path) -> None:
    import rasterio
    from shapely.geometry import shape

    out, poly, html = tmp_path / "s.tif", tmp_path / "h.geojson", tmp_path / "m.html"
    r = runner.invoke(
        _app(),
        [
            "kde",
            "--input",
            str(JAN),
            "--format",
            "police",
            "--radius",
            "400",
            "--cell",
            "100",
            "--categories",
            "Anti-social behaviour",
            "--out",
            str(out),
            "--polygons",
            str(poly),
            "--map",
            str(html),
            "--percentile",
            "90",
        ],
    )
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    x, y = _police_xy(JAN, "Anti-social behaviour")
    assert summary["incidents"] == x.size
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 27700 and src.res == (100.0, 100.0)
        assert json.loads(src.tags()["parameters"])["radius_m"] == 400
        arr = src.read(1, masked=True).filled(0).astype(np.float64)
        t = src.transform
    # Total mass: sum(density) x cell area = number of incidents (the grid pads by the radius).
    assert arr.sum() * 0.01 == pytest.approx(x.size, rel=0.01)
    row, col = np.unravel_index(int(np.argmax(arr)), arr.shape)
    cx, cy = t.c + (col + 0.5) * 100, t.f - (row + 0.5) * 100
    d2 = (x - cx) ** 2 + (y - cy) ** 2
    inside = d2 < 400**2
    direct = np.sum(3 / (math.pi * 400**2) * (1 - d2[inside] / 400**2) ** 2) * 1e6
    assert arr[row, col] == pytest.approx(direct, rel=1e-3)
    fc = json.loads(poly.read_text())
    assert fc["parameters"]["percentile"] == 90 and fc["features"]
    assert all(shape(f["geometry"]).is_valid for f in fc["features"])
    from shared.maps import external_assets

    text = html.read_text()
    assert "data:image/png;base64" in text and external_assets(text) == []


def test_gistar_and_evaluate(tmp_path: Path) -> None:
    g_out, g_poly = tmp_path / "g.tif", tmp_path / "g.geojson"
    r = runner.invoke(
        _app(),
        [
            "gistar",
            "--input",
            str(JAN),
            "--cell",
            "250",
            "--neighbourhood",
            "2",
            "--out",
            str(g_out),
            "--polygons",
            str(g_poly),
        ],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(g_poly.read_text())["features"]

    out = tmp_path / "s.tif"
    r = runner.invoke(
        _app(),
        [
            "kde",
            "--input",
            str(JAN),
            "--method",
            "fast",
            "--radius",
            "300",
            "--cell",
            "100",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    r = runner.invoke(
        _app(), ["evaluate", "--surface", str(out), "--input", str(FEB), "--format", "police"]
    )
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout.strip().splitlines()[-1])
    assert [round(x["area_fraction"], 2) for x in rows] == [0.01, 0.05, 0.1]
    hit = [x["hit_rate"] for x in rows]
    assert hit == sorted(hit) and rows[0]["pai"] > 1
    assert "PAI" in r.stdout
    # --from/--to select nothing in February: one clear error line.
    r = runner.invoke(
        _app(),
        [
            "evaluate",
            "--surface",
            str(out),
            "--input",
            str(FEB),
            "--from",
            "2023-01-01",
            "--to",
            "2023-01-31",
        ],
    )
    assert r.exit_code != 0 and "no incidents" in r.output


def test_sites_from_a_stats19_file(tmp_path: Path) -> None:
    from shapely.geometry import Point, shape

    from shared.geometry import to_wgs84

    rows = cluster(576_500, 167_500, 5, radius_m=15, seed=2)
    path = make_collisions_csv(tmp_path / "c.csv", rows, n=30, seed=5)
    out = tmp_path / "sites.geojson"
    r = runner.invoke(
        _app(),
        [
            "sites",
            "--input",
            str(path),
            "--min-collisions",
            "4",
            "--radius",
            "50",
            "--years",
            "3",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    fc = json.loads(out.read_text())
    lon, lat = to_wgs84(576_500, 167_500)
    assert sum(shape(f["geometry"]).contains(Point(lon, lat)) for f in fc["features"]) == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["kde", "--input", str(JAN), "--radius", "-3"], "--radius"),
        (["kde", "--input", str(JAN), "--cell", "2"], "CSP_MAX_GRID_CELLS"),
        (["kde", "--input", str(JAN), "--method", "magic"], "--method"),
        (["kde", "--input", str(JAN), "--format", "shapefile"], "--format"),
        (["kde", "--input", str(JAN), "--from", "yesterday"], "--from"),
        (["kde", "--input", str(JAN), "--categories", "Nothing"], "no incidents"),
        (["gistar", "--input", str(JAN), "--neighbourhood", "0"], "--neighbourhood"),
    ],
)
def test_errors_are_one_line_and_non_zero(args: list[str], needle: str) -> None:
    r = runner.invoke(_app(), args)
    assert r.exit_code == 1, r.output
    # One message (rich may wrap it at the terminal width), starting with "error:".
    flat = " ".join(ln.strip() for ln in r.output.splitlines() if ln.strip())
    assert flat.startswith("error:") and needle in flat and flat.count("error:") == 1, r.output
    assert "Traceback" not in r.output


def test_help_is_fast_without_heavy_imports() -> None:
    import subprocess
    import sys

    code = (
        "import sys, csp.cli; "
        "print(','.join(m for m in ('numba', 'rasterio', 'geopandas', 'folium') "
        "if m in sys.modules))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
        check=True,
    )
    assert "numba" not in res.stdout and "rasterio" not in res.stdout, res.stdout
