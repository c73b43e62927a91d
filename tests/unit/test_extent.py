"""The partnership's extent: the outline, its margin and the grid cell limit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import box, shape

from shared.extent import (
    OUTLINE_PATH,
    GridTooLarge,
    OutsideExtent,
    cells_for_bounds,
    check_cells,
    partnership_extent,
)
from shared.geometry import point_to_bng
from shared.grid import Grid

PLACES = {  # (lon, lat): inside outline, inside outline + 15 km
    "Chatham": ((0.5270, 51.3800), True, True),
    "Rochester": ((0.5040, 51.3880), True, True),
    "Maidstone": ((0.5220, 51.2720), False, True),
    "Calais": ((1.8587, 50.9513), False, False),
    "Dublin": ((-6.2603, 53.3498), False, False),
    "North Sea": ((2.0, 52.5), False, False),
    "Channel": ((1.0, 50.5), False, False),
}


@pytest.mark.parametrize("place", sorted(PLACES))
def test_places(place: str) -> None:
    (lon, lat), in_outline, in_allowed = PLACES[place]
    ext = partnership_extent(15_000.0)
    x, y = point_to_bng(lon, lat)
    assert bool(ext.inside_outline(x, y)[0]) is in_outline
    assert bool(ext.inside_allowed(x, y)[0]) is in_allowed


def test_nan_is_outside() -> None:
    ext = partnership_extent()
    assert not ext.inside_allowed([np.nan, np.inf], [170_000.0, np.nan]).any()


def test_outline_matches_the_bundled_file() -> None:
    raw = shape(json.loads(OUTLINE_PATH.read_text())["features"][0]["geometry"])
    ext = partnership_extent(0.0)
    # Medway is about 192 km2; the projected outline keeps that area.
    assert 185e6 < ext.outline.area < 200e6
    assert raw.is_valid and shapely.get_num_geometries(raw) >= 1


def test_check_geometry() -> None:
    ext = partnership_extent(15_000.0)
    ext.check_geometry(box(570_000, 165_000, 580_000, 175_000))
    with pytest.raises(OutsideExtent, match="15 km"):
        ext.check_geometry(box(0, 0, 700_000, 1_250_000))


def test_cells_for_bounds_matches_grid() -> None:
    rng = np.random.default_rng(1)
    for _ in range(200):
        minx, miny = rng.uniform(500_000, 600_000, 2)
        w, h = rng.uniform(0, 30_000, 2)
        c = float(rng.choice([50.0, 100.0, 150.0, 333.0]))
        g = Grid.covering(minx, miny, minx + w, miny + h, c)
        assert cells_for_bounds(minx, miny, minx + w, miny + h, c) == (g.nx, g.ny)


def test_check_cells_names_the_limit() -> None:
    check_cells(1000, 1000, 1_000_000)
    with pytest.raises(GridTooLarge, match="1,000,000"):
        check_cells(1001, 1000, 1_000_000)
    with pytest.raises(ValueError):
        cells_for_bounds(0, 0, float("nan"), 1, 150)


def test_feature_ids_are_int4_in_ascii_digits() -> None:
    from shared.ogc import MAX_FEATURE_ID, int_feature_id

    assert int_feature_id("42") == 42 and int_feature_id(str(MAX_FEATURE_ID)) == MAX_FEATURE_ID
    for bad in ("", "²", "٣٣", "-1", "1.0", str(MAX_FEATURE_ID + 1), "9" * 5000, " 1"):
        assert int_feature_id(bad) is None, bad
