"""Agency areas (A1, D9): checked GeoJSON, grids counted before allocating, masks in steps."""

from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Point, box

from services.predictive.compute import areas
from services.predictive.compute.areas import (
    BadArea,
    area_from_geojson,
    area_grid,
    check_area_cells,
)
from shared.extent import GridTooLarge
from tests.support import CHATHAM


def test_area_in_metres_matches_the_geodesic_area() -> None:
    got = area_from_geojson({"type": "Polygon", "coordinates": [CHATHAM]})
    assert isinstance(got, MultiPolygon)
    lons, lats = zip(*CHATHAM, strict=True)
    geodesic, _ = Geod(ellps="WGS84").polygon_area_perimeter(lons, lats)
    assert got.area == pytest.approx(abs(geodesic), rel=3e-3)  # OSGB scale factor ~0.9996


@pytest.mark.parametrize(
    "obj",
    [
        None,
        [],
        "Polygon",
        {"coordinates": [CHATHAM]},
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [CHATHAM]}},
        {"type": "Polygon", "coordinates": None},
        {"type": "Polygon", "coordinates": [[[0.5, float("nan")], [0.6, 51.3], [0.6, 51.4],
                                             [0.5, float("nan")]]]},
        {"type": "Polygon", "coordinates": [[[float("inf"), 51.3], [0.6, 51.3], [0.6, 51.4],
                                             [float("inf"), 51.3]]]},
        {"type": "Polygon", "coordinates": [[[[0.5, 51.3], [0.6, 51.3], [0.6, 51.4]]]]},
        {"type": "MultiPolygon", "coordinates": [CHATHAM]},
        {"type": "Polygon", "coordinates": [[[1e308, 51.3], [0.6, 51.3], [0.6, 51.4],
                                             [1e308, 51.3]]]},
    ],
)  # fmt: skip
def test_malformed_areas_are_bad_areas_never_other_errors(obj: object) -> None:
    with pytest.raises(BadArea):
        area_from_geojson(obj)


def test_self_intersection_is_explained_not_repaired() -> None:
    bow = [[0.50, 51.36], [0.58, 51.40], [0.58, 51.36], [0.50, 51.40], [0.50, 51.36]]
    with pytest.raises(BadArea, match=r"crosses itself at lon 0\.540000, lat 51\.380000"):
        area_from_geojson({"type": "Polygon", "coordinates": [bow]})


def test_too_many_vertices_are_refused() -> None:
    n = areas.MAX_AREA_VERTICES + 10
    ang = np.linspace(0, 2 * np.pi, n)
    ring = np.column_stack([0.55 + 0.02 * np.cos(ang), 51.38 + 0.01 * np.sin(ang)]).tolist()
    ring[-1] = ring[0]
    with pytest.raises(BadArea, match="vertices"):
        area_from_geojson({"type": "Polygon", "coordinates": [ring]})


def test_cells_are_counted_without_allocating() -> None:
    """Great Britain at 1 m would be 10^12 cells: refused in microseconds and kilobytes."""
    gb = box(0, 0, 700_000, 1_250_000)
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(GridTooLarge, match=r"the limit is 4,000,000 cells"):
        area_grid(gb, 1.0, max_cells=4_000_000)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert elapsed < 0.5 and peak < 1_000_000
    assert check_area_cells(box(0, 0, 1000, 1000), 100, 121) == (11, 11)  # edges on the grid
    with pytest.raises(GridTooLarge):
        check_area_cells(box(0, 0, 1000, 1000), 100, 120)


@pytest.mark.parametrize("chunk", [1, 7, 50, 10_000])
def test_mask_in_steps_equals_the_mask_at_once(monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    """Any step size gives the mask of testing every cell's box against the area directly."""
    monkeypatch.setattr(areas, "MASK_CHUNK_CELLS", chunk)
    areas._cached_mask.cache_clear()
    area = MultiPolygon([Point(575_040, 168_020).buffer(1_130), box(577_300, 166_900, 578_000,
                                                                     167_250)])  # fmt: skip
    grid, mask = area_grid(area, 150.0, max_cells=10_000)
    areas._cached_mask.cache_clear()
    expected = np.zeros(grid.shape, dtype=bool)
    for r in range(grid.ny):
        for c in range(grid.nx):
            expected[r, c] = area.intersects(box(*grid.cell_bounds(r, c)))
    assert mask.shape == (grid.ny, grid.nx) and mask.any() and not mask.all()
    np.testing.assert_array_equal(mask, expected)
    assert grid.x0 % 150 == 0 and grid.y0 % 150 == 0
    assert shapely.box(*grid.bounds).covers(area)
