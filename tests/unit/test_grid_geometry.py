import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.geometry import point_to_bng, point_to_wgs84, to_bng, to_wgs84
from shared.grid import Grid, parse_cell_id


def test_known_point_rochester_castle() -> None:
    # Rochester Castle keep, OS grid reference TQ 741 685 (about 574150, 168570).
    x, y = point_to_bng(0.5016, 51.3898)
    assert abs(x - 574150) < 150 and abs(y - 168570) < 150


@settings(max_examples=200, deadline=None)
@given(st.floats(-5.5, 1.7), st.floats(50.0, 58.5))
def test_wgs84_bng_round_trip(lon: float, lat: float) -> None:
    x, y = point_to_bng(lon, lat)
    lon2, lat2 = point_to_wgs84(x, y)
    # The Helmert transform is inverted approximately: about 1e-8 degrees (1 mm) is expected.
    assert math.isclose(lon, lon2, abs_tol=1e-7) and math.isclose(lat, lat2, abs_tol=1e-7)
    assert 0 < x < 700000 and 0 < y < 1300000


def test_vectorised_round_trip() -> None:
    rng = np.random.default_rng(1)
    x = rng.uniform(560000, 590000, 1000)
    y = rng.uniform(160000, 180000, 1000)
    lon, lat = to_wgs84(x, y)
    x2, y2 = to_bng(lon, lat)
    assert np.allclose(x, x2, atol=1e-6) and np.allclose(y, y2, atol=1e-6)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(500000, 600000),
    st.floats(100000, 200000),
    st.floats(1, 5000),
    st.floats(1, 5000),
    st.sampled_from([25.0, 50.0, 100.0, 150.0, 250.0]),
)
def test_grid_covering_is_aligned_and_covers(
    minx: float, miny: float, w: float, h: float, cell: float
) -> None:
    g = Grid.covering(minx, miny, minx + w, miny + h, cell)
    assert g.x0 % cell == 0 and g.y0 % cell == 0
    assert g.x0 <= minx < g.x0 + cell and g.y0 <= miny < g.y0 + cell
    assert g.x1 > minx + w and g.y1 > miny + h
    assert g.x1 - cell <= minx + w and g.y1 - cell <= miny + h


def test_two_grids_with_same_cell_line_up() -> None:
    a = Grid.covering(574010, 168020, 576000, 170000, 150)
    b = Grid.covering(575123, 169456, 579999, 171234, 150)
    offx = (b.x0 - a.x0) / 150
    offy = (b.y0 - a.y0) / 150
    assert offx == int(offx) and offy == int(offy)


def test_misaligned_origin_refused() -> None:
    with pytest.raises(ValueError, match="multiple"):
        Grid(cell_size_m=150, x0=574010, y0=168000, nx=3, ny=3)


def test_cell_index_centres_and_ids() -> None:
    g = Grid.covering(0, 0, 299, 449, 150)  # 2 columns x 3 rows
    assert g.shape == (3, 2)
    xs, ys = g.centres_x(), g.centres_y()
    assert list(xs) == [75, 225] and list(ys) == [375, 225, 75]
    row, col, inside = g.cell_index([75, 225, -1, 300], [375, 75, 10, 10])
    assert list(row[:2]) == [0, 2] and list(col[:2]) == [0, 1]
    assert list(inside) == [True, True, False, False]
    assert g.cell_bounds(0, 0) == (0, 300, 150, 450)
    cid = g.cell_id(2, 1)
    assert cid == "150m_150_0" and parse_cell_id(cid) == (150.0, 150.0, 0.0)
    assert g.transform() == (150, 0, 0, 0, -150, 450)


def test_point_on_edge_goes_to_the_cell_it_starts() -> None:
    g = Grid.covering(0, 0, 299, 299, 150)
    row, col, _ = g.cell_index([150.0], [150.0])
    assert (row[0], col[0]) == (0, 1)
