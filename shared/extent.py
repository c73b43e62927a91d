"""The partnership's extent: where incidents, areas and grids may lie (EPSG:27700, pure).

"Inside Great Britain" used to be a rectangle that let Calais, Dublin and the North Sea through.
The suite serves one partnership, so the test is its own outline (the Medway district, bundled in
``shared/boundaries``) plus a margin for neighbouring roads, rivers and the moved city data sets:
a point beyond the margin is refused, a point inside the margin but outside the outline is kept
with a warning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from shared.geometry import to_bng
from shared.grid import Grid

OUTLINE_PATH = Path(__file__).resolve().parent / "boundaries" / "medway_outline.geojson"
DEFAULT_MARGIN_M = 15_000.0


class OutsideExtent(ValueError):
    """A geometry lies beyond the partnership's area and its margin."""


class GridTooLarge(ValueError):
    """A grid would have more cells than the configured limit allows."""


@dataclass(frozen=True)
class Extent:
    """The partnership's outline and the larger area (outline + margin) data may come from."""

    name: str
    outline: BaseGeometry  # EPSG:27700
    margin_m: float
    allowed: BaseGeometry  # outline buffered by margin_m, EPSG:27700

    def inside_allowed(self, x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Which EPSG:27700 points lie inside the outline plus margin (NaN is outside)."""
        return self._contains(self.allowed, x, y)

    def inside_outline(self, x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Which EPSG:27700 points lie inside the partnership's own outline."""
        return self._contains(self.outline, x, y)

    @staticmethod
    def _contains(geom: BaseGeometry, x: npt.ArrayLike, y: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        xs = np.atleast_1d(np.asarray(x, dtype=np.float64))
        ys = np.atleast_1d(np.asarray(y, dtype=np.float64))
        ok = np.isfinite(xs) & np.isfinite(ys)
        out = np.zeros(xs.shape, dtype=bool)
        if ok.any():
            out[ok] = shapely.intersects_xy(geom, xs[ok], ys[ok])
        return out

    def check_geometry(self, geom: BaseGeometry, *, what: str = "area") -> None:
        """Raise ``OutsideExtent`` unless ``geom`` (EPSG:27700) lies within outline + margin."""
        if not self.allowed.covers(geom):
            km = self.margin_m / 1000.0
            raise OutsideExtent(
                f"the {what} reaches beyond {self.name} and {km:g} km around it; "
                "draw it inside the partnership's area"
            )


def _read_outline(path: Path) -> tuple[str, BaseGeometry]:
    data = json.loads(path.read_text(encoding="utf-8"))
    feat = data["features"][0]
    geom = shape(feat["geometry"])

    def _xy(coords: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        return np.column_stack(to_bng(coords[:, 0], coords[:, 1]))

    return str(feat["properties"].get("name", "the partnership")), shapely.transform(geom, _xy)


@lru_cache(maxsize=8)
def partnership_extent(
    margin_m: float = DEFAULT_MARGIN_M, outline_path: str | None = None
) -> Extent:
    """The bundled Medway outline (or ``outline_path``, WGS84 GeoJSON) with ``margin_m``."""
    if not margin_m >= 0:
        raise ValueError("margin_m must be zero or more")
    name, outline = _read_outline(Path(outline_path) if outline_path else OUTLINE_PATH)
    allowed = outline.buffer(margin_m) if margin_m else outline
    shapely.prepare(outline)
    shapely.prepare(allowed)
    return Extent(name=name, outline=outline, margin_m=float(margin_m), allowed=allowed)


def check_cells(nx: int, ny: int, max_cells: int, *, what: str = "grid") -> None:
    """Raise ``GridTooLarge`` (naming the limit) when an nx x ny grid exceeds ``max_cells``."""
    n = int(nx) * int(ny)
    if n > max_cells:
        raise GridTooLarge(
            f"the {what} would have {n:,} cells ({nx:,} x {ny:,}); the limit is {max_cells:,} "
            "cells (setting CSP_MAX_GRID_CELLS): choose a smaller area or larger cells"
        )


def cells_for_bounds(
    minx: float, miny: float, maxx: float, maxy: float, cell_size_m: float
) -> tuple[int, int]:
    """(nx, ny) of the aligned grid covering the box; a ``Grid`` holds no array, so this
    allocates nothing however large the box."""
    vals = (minx, miny, maxx, maxy, cell_size_m)
    if not all(np.isfinite(v) for v in vals) or not cell_size_m > 0:
        raise ValueError("bounds and cell size must be finite numbers, cell size above 0")
    grid = Grid.covering(minx, miny, maxx, maxy, cell_size_m)
    return grid.nx, grid.ny
