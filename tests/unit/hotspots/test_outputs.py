"""What people download, on in-memory data: incidents counted in each hotspot's cells, the COG's
self-describing tags, the GeoPackage and formula-neutral CSV; categories in any case."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from shapely.geometry import Point, box

from services.hotspots.compute.exports import neutralise, polygons_gpkg, table_csv
from services.hotspots.compute.points import Points, filter_points
from services.hotspots.compute.polygons import count_in_labels, hotspot_polygons
from services.hotspots.compute.raster import write_surface_tif
from services.hotspots.compute.surfaces import compute_gistar, compute_kde
from services.hotspots.compute.tags import surface_tags
from shared.grid import Grid

GRID = Grid(cell_size_m=10.0, x0=500_000.0, y0=100_000.0, nx=6, ny=4)


def points(xy: list[tuple[float, float]], categories: list[str] | None = None) -> Points:
    n = len(xy)
    return Points(
        np.array([p[0] for p in xy], dtype=float),
        np.array([p[1] for p in xy], dtype=float),
        np.ones(n),
        np.array(
            [np.datetime64(datetime(2022, 3, 1 + i % 20)) for i in range(n)], dtype="datetime64[s]"
        ),  # fmt: skip
        np.array(categories or ["Burglary"] * n),
    )


def test_each_polygon_counts_the_points_in_its_cells() -> None:
    # Two blocks of hot cells (row 0 north): columns 0-1 and column 4, in the top two rows.
    s = np.zeros(GRID.shape)
    s[0:2, 0:2] = 5.0
    s[0:2, 4] = 9.0
    xs = [500_005.0, 500_015.0, 500_015.0, 500_045.0, 500_055.0, 500_005.0]
    ys = [100_035.0, 100_025.0, 100_025.0, 100_035.0, 100_035.0, 100_005.0]
    polys = hotspot_polygons(s, GRID, threshold=1.0, points=(np.array(xs), np.array(ys)))
    # Hand count: the block at column 4 (peak 9, first) holds one point (500_045, 100_035);
    # the block at columns 0-1 three; (500_055) is in column 5 and (.., 100_005) in row 3.
    assert [p["incidents"] for p in polys] == [1, 3]
    for p in polys:
        inside = sum(p["geometry"].covers(Point(x, y)) for x, y in zip(xs, ys, strict=True))
        assert p["incidents"] == inside
    labels = np.zeros(GRID.shape, dtype=np.int32)
    labels[0, 0] = 1
    off_grid = count_in_labels(labels, 1, GRID, np.array([400_000.0]), np.array([100_035.0]))
    assert list(off_grid) == [1, 0]  # off the grid: label 0, never a hotspot


def test_surfaces_count_incidents_inside_their_hotspots() -> None:
    rng = np.random.default_rng(3)
    xy = [(575_000 + rng.normal(0, 60), 168_000 + rng.normal(0, 60)) for _ in range(80)]
    xy += [(578_000 + rng.normal(0, 300), 166_000 + rng.normal(0, 300)) for _ in range(40)]
    pts = points(xy)
    for res in (
        compute_kde(pts, radius_m=250, cell_m=25, percentile=90, max_cells=10**6),
        compute_gistar(pts, cell_m=100, neighbourhood_cells=2, max_cells=10**6),
    ):
        assert res.shapes
        for s in res.shapes:
            by_hand = sum(s.geom.covers(Point(x, y)) for x, y in xy)
            assert s.incidents == by_hand
        assert res.selection["categories_read"] == ["Burglary"]
        assert res.selection["first_day_read"] == "2022-03-01"


def test_categories_filter_in_any_case() -> None:
    pts = points([(1.0, 1.0), (2.0, 2.0), (3.0, 3.0)], ["Burglary", "BURGLARY", "Robbery"])
    assert len(filter_points(pts, categories=["burglary"])) == 2
    assert len(filter_points(pts, categories=["ROBBERY", "nothing"])) == 1


def test_the_cog_names_what_it_was_computed_from(tmp_path: Path) -> None:
    import rasterio

    rng = np.random.default_rng(4)
    pts = points([(575_000 + rng.normal(0, 80), 168_000 + rng.normal(0, 80)) for _ in range(50)])
    res = compute_kde(pts, kernel="epanechnikov", radius_m=300, cell_m=50, max_cells=10**6)
    res.selection.update(categories=["Burglary"], sources=["police"], sources_read=["police"])
    res.selection.update({"from": "2022-03-01", "to": None})
    write_surface_tif(tmp_path / "s.tif", res)
    with rasterio.open(tmp_path / "s.tif") as src:
        tags = src.tags()
        arr = src.read(1, masked=True).filled(0.0)
        assert src.units == ("incidents per km2",)
    assert tags["categories"] == '["Burglary"]' and tags["sources"] == '["police"]'
    assert tags["period"] == "2022-03-01/.." and tags["period_read"] == "2022-03-01/2022-03-20"
    assert tags["kernel"] == "epanechnikov" and tags["method"] == "exact"
    assert tags["radius_m"] == "300" and tags["cell_m"] == "50"
    assert tags["weighting"].startswith("incident weights")
    cut = float(np.percentile(arr[arr > 0], 95))
    assert float(tags["hotspot_threshold"]) == pytest.approx(cut, rel=1e-5)
    assert tags["TIFFTAG_SOFTWARE"] == "Medway CSP hotspots"
    # The run's parameters are still there as they were (older readers use them).
    assert json.loads(tags["parameters"])["kernel"] == "epanechnikov"


def test_tags_of_an_unfiltered_run_say_all() -> None:
    tags = surface_tags(
        "kde",
        {
            "method": "fast",
            "kernel": "quartic",
            "radius_m": 400.0,
            "cell_m": 100.0,
            "percentile": 95.0,
            "use_weights": False,
        },  # fmt: skip
        {"threshold": None, "units": "incidents per km2"},
        {},
    )
    assert tags["categories"] == "all" and tags["sources"] == "all" and tags["period"] == "../.."
    assert tags["hotspot_threshold"] == "" and "no cell above 0" in tags["hotspot_rule"]
    assert tags["weighting"].startswith("unweighted")


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted() -> None:
    for bad in ("=1+2", "+1", "-2+3", "@SUM(A1)"):
        assert neutralise(bad) == "'" + bad
    assert neutralise(-2.5) == -2.5 and neutralise("Chatham") == "Chatham"
    text = table_csv(("ward", "incidents"), [{"ward": "=cmd|' /C calc'!A0", "incidents": None}])
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["ward", "incidents"], ["'=cmd|' /C calc'!A0", ""]]


def test_the_geopackage_holds_the_polygons_and_says_what_they_are(tmp_path: Path) -> None:
    import pyogrio

    geoms = [box(575_000, 168_000, 575_100, 168_100), box(576_000, 168_000, 576_050, 168_050)]
    rows: list[dict[str, Any]] = [
        {"rank": 1, "ward": "=A1", "incidents": 4},
        {"rank": 2, "ward": None, "incidents": 0},
    ]
    data = polygons_gpkg(
        rows, geoms, layer="hotspots_run_7", description="a test", metadata={"run": "7"}
    )
    path = tmp_path / "h.gpkg"
    path.write_bytes(data)
    frame = pyogrio.read_dataframe(path)
    assert frame.crs.to_epsg() == 27700 and list(frame["rank"]) == [1, 2]
    assert list(frame.geometry.area) == [10_000.0, 2_500.0]
    assert frame.geometry.iloc[0].geom_type == "MultiPolygon"
    info = pyogrio.read_info(path)
    assert info["layer_metadata"]["run"] == "7" and info["layer_metadata"]["DESCRIPTION"] == (
        "a test"
    )
    empty = polygons_gpkg([], [], layer="none", description="", metadata={})
    (tmp_path / "e.gpkg").write_bytes(empty)
    assert len(pyogrio.read_dataframe(tmp_path / "e.gpkg")) == 0
    with pytest.raises(ValueError):
        polygons_gpkg(rows, geoms[:1], layer="x", description="", metadata={})


def test_the_command_line_cog_names_its_filters(tmp_path: Path) -> None:
    """``csp hotspots kde --out`` from a police file: the tags say what was asked and read."""
    import rasterio
    from typer.testing import CliRunner

    from services.hotspots.cli import app
    from tests.conftest import SHARED_DATA

    out = tmp_path / "s.tif"
    r = CliRunner().invoke(
        app,
        [
            "kde", "--input", str(SHARED_DATA / "police" / "2022-01-kent-street-medway.csv"),
            "--format", "police", "--radius", "400", "--cell", "200",
            "--categories", "burglary", "--from", "2022-01-01", "--out", str(out),
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    with rasterio.open(out) as src:
        tags = src.tags()
    assert tags["categories"] == '["burglary"]' and tags["categories_read"] == '["Burglary"]'
    assert tags["sources"] == '["police"]' and tags["period"] == "2022-01-01/.."
    assert tags["period_read"] == "2022-01-01/2022-01-01" and tags["radius_m"] == "400"
