"""COG writer and hotspot polygons, checked against independent reads and counts."""

from __future__ import annotations

import subprocess
from shutil import which

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer
from shapely.geometry import Point, shape

from services.hotspots.compute.polygons import hotspot_polygons, polygons_to_geojson
from services.hotspots.compute.raster import write_cog
from shared.grid import Grid


def blobs(grid: Grid) -> np.ndarray:
    """Two separate Gaussian bumps and an empty (zero) background."""
    cx, cy = np.meshgrid(grid.centres_x(), grid.centres_y())
    s = 10 * np.exp(-((cx - 575_800) ** 2 + (cy - 168_900) ** 2) / (2 * 150.0**2))
    s += 6 * np.exp(-((cx - 577_500) ** 2 + (cy - 167_600) ** 2) / (2 * 200.0**2))
    s[s < 0.05] = 0.0
    return s


GRID = Grid(cell_size_m=10.0, x0=575_000.0, y0=167_000.0, nx=300, ny=260)


def test_write_cog_roundtrip(tmp_path) -> None:
    s = blobs(GRID)
    s[5, 7] = np.nan
    path = tmp_path / "kde.tif"
    write_cog(path, s, GRID, tags={"radius_m": "250", "kernel": "quartic"})
    with rasterio.open(path) as ds:
        assert ds.crs.to_epsg() == 27700
        assert ds.transform == Affine(*GRID.transform())
        assert (ds.height, ds.width) == GRID.shape
        assert ds.dtypes == ("float32",)
        assert ds.nodata == -9999.0
        tags = ds.tags()
        assert tags["units"] == "incidents per km2"
        assert tags["radius_m"] == "250" and tags["kernel"] == "quartic"
        assert ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert ds.profile["tiled"] and ds.block_shapes == [(256, 256)]
        assert ds.overviews(1)
        a = ds.read(1)
        m = ds.read_masks(1)
    nodata = np.isnan(s) | (s == 0)
    np.testing.assert_array_equal(a == -9999.0, nodata)
    np.testing.assert_array_equal(m == 0, nodata)
    np.testing.assert_allclose(a[~nodata], s[~nodata].astype(np.float32))


@pytest.mark.skipif(which("gdalinfo") is None, reason="gdalinfo not installed")
def test_write_cog_gdalinfo(tmp_path) -> None:
    path = tmp_path / "kde.tif"
    write_cog(path, blobs(GRID), GRID, tags={})
    out = subprocess.run(["gdalinfo", str(path)], capture_output=True, text=True, check=True)
    assert "LAYOUT=COG" in out.stdout and "Overviews:" in out.stdout


def test_write_cog_rejects_wrong_shape(tmp_path) -> None:
    with pytest.raises(ValueError):
        write_cog(tmp_path / "x.tif", np.zeros((3, 3)), GRID, tags={})


def cells_area(sel: np.ndarray) -> float:
    return float(sel.sum()) * GRID.cell_size_m**2


def test_threshold_gives_two_polygons() -> None:
    s = blobs(GRID)
    polys = hotspot_polygons(s, GRID, threshold=3.0)
    assert len(polys) == 2
    sel = s > 3.0
    assert sum(p["area_m2"] for p in polys) == pytest.approx(cells_area(sel))
    assert polys[0]["peak"] == pytest.approx(s.max())
    assert polys[0]["peak"] > polys[1]["peak"]
    # The higher bump is around (575800, 168900) and its polygon holds it.
    assert polys[0]["geometry"].contains(Point(575_805, 168_905))
    assert not polys[1]["geometry"].contains(Point(575_805, 168_905))
    west = sel & (GRID.centres_x()[None, :] < 576_700)
    assert polys[0]["mean"] == pytest.approx(s[west].mean())
    assert all(p["geometry"].is_valid for p in polys)
    minx, miny, maxx, maxy = GRID.bounds
    for p in polys:
        b = p["geometry"].bounds
        assert minx <= b[0] and miny <= b[1] and b[2] <= maxx and b[3] <= maxy


def test_percentile_of_positive_cells() -> None:
    s = blobs(GRID)
    polys = hotspot_polygons(s, GRID, percentile=90)
    # Independent: 10% of the positive cells (symmetric bumps tie a little) lie above the 90th pct.
    pos = np.sort(s[s > 0])
    cut = np.quantile(pos, 0.9)
    assert sum(p["area_m2"] for p in polys) == pytest.approx(cells_area(s > cut))
    assert abs((s > cut).sum() - 0.1 * pos.size) <= 0.01 * pos.size


def test_mask_and_corner_touching_cells() -> None:
    s = blobs(GRID) + 1.0
    mask = np.zeros(GRID.shape, dtype=bool)
    mask[10:13, 10:14] = True  # 12 cells
    mask[13, 14] = True  # touches only at a corner: a separate polygon
    polys = hotspot_polygons(s, GRID, mask=mask)
    assert sorted(p["area_m2"] for p in polys) == [100.0, 1200.0]
    big = max(polys, key=lambda p: p["area_m2"])["geometry"]
    # Rows 10..12, cols 10..13: x from x0+100 to x0+140, y from y1-130 to y1-100.
    assert big.bounds == (575_100.0, GRID.y1 - 130, 575_140.0, GRID.y1 - 100)


def test_selection_arguments() -> None:
    s = blobs(GRID)
    assert hotspot_polygons(s, GRID, threshold=1e9) == []
    assert hotspot_polygons(np.zeros(GRID.shape), GRID, percentile=50) == []
    with pytest.raises(ValueError):
        hotspot_polygons(s, GRID)
    with pytest.raises(ValueError):
        hotspot_polygons(s, GRID, percentile=90, threshold=1.0)


def test_geojson_wgs84_with_parameters() -> None:
    s = blobs(GRID)
    polys = hotspot_polygons(s, GRID, threshold=3.0)
    params = {"radius_m": 250.0, "kernel": "quartic", "threshold": 3.0}
    fc = polygons_to_geojson(polys, params)
    assert fc["type"] == "FeatureCollection"
    assert fc["parameters"] == params
    assert len(fc["features"]) == 2
    tr = Transformer.from_crs(27700, 4326, always_xy=True)
    for f, p in zip(fc["features"], polys, strict=True):
        assert f["type"] == "Feature"
        assert f["properties"]["parameters"] == params
        assert f["properties"]["area_m2"] == pytest.approx(p["area_m2"])
        g = shape(f["geometry"])
        assert g.geom_type in ("Polygon", "MultiPolygon")
        lon, lat = tr.transform(*p["geometry"].exterior.coords[0])
        assert g.exterior.coords[0] == pytest.approx((lon, lat), abs=1e-9)
        minx, miny, maxx, maxy = g.bounds
        assert 0.4 < minx < maxx < 0.7 and 51.3 < miny < maxy < 51.5
