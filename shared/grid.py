"""A raster grid aligned to whole multiples of its cell size in EPSG:27700 (metres)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Grid:
    """A north-up grid of square cells in EPSG:27700.

    The lower-left corner (``x0``, ``y0``) is a whole multiple of ``cell_size_m``, so two grids
    with the same cell size line up cell for cell. Arrays over the grid have shape ``(ny, nx)``
    with row 0 at the north edge, as rasterio writes them.
    """

    cell_size_m: float
    x0: float
    y0: float
    nx: int
    ny: int

    def __post_init__(self) -> None:
        if not self.cell_size_m > 0:
            raise ValueError("cell_size_m must be positive")
        if self.nx < 1 or self.ny < 1:
            raise ValueError("a grid needs at least one cell each way")
        for name, v in (("x0", self.x0), ("y0", self.y0)):
            k = v / self.cell_size_m
            if abs(k - round(k)) > 1e-6:
                raise ValueError(f"{name}={v} is not a whole multiple of {self.cell_size_m} m")

    @classmethod
    def covering(
        cls, minx: float, miny: float, maxx: float, maxy: float, cell_size_m: float
    ) -> Grid:
        """Return the smallest aligned grid whose cells cover the box (EPSG:27700 metres)."""
        if maxx < minx or maxy < miny:
            raise ValueError("bounds are inverted")
        c = float(cell_size_m)
        x0 = math.floor(minx / c) * c
        y0 = math.floor(miny / c) * c
        nx = max(1, math.floor((maxx - x0) / c) + 1)
        ny = max(1, math.floor((maxy - y0) / c) + 1)
        return cls(cell_size_m=c, x0=x0, y0=y0, nx=nx, ny=ny)

    @property
    def x1(self) -> float:
        """Eastern edge in metres."""
        return self.x0 + self.nx * self.cell_size_m

    @property
    def y1(self) -> float:
        """Northern edge in metres."""
        return self.y0 + self.ny * self.cell_size_m

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in metres."""
        return (self.x0, self.y0, self.x1, self.y1)

    @property
    def shape(self) -> tuple[int, int]:
        """(ny, nx): the shape of an array over this grid."""
        return (self.ny, self.nx)

    @property
    def cell_area_km2(self) -> float:
        """Area of one cell in square kilometres."""
        return (self.cell_size_m / 1000.0) ** 2

    def centres_x(self) -> FloatArray:
        """Eastings of the column centres, west to east, shape (nx,)."""
        return self.x0 + (np.arange(self.nx, dtype=np.float64) + 0.5) * self.cell_size_m

    def centres_y(self) -> FloatArray:
        """Northings of the row centres, north to south (row 0 first), shape (ny,)."""
        return self.y1 - (np.arange(self.ny, dtype=np.float64) + 0.5) * self.cell_size_m

    def cell_index(
        self, x: npt.ArrayLike, y: npt.ArrayLike
    ) -> tuple[IntArray, IntArray, npt.NDArray[np.bool_]]:
        """Return (row, col, inside) for points in metres; row/col are -1 outside the grid."""
        xa = np.asarray(x, dtype=np.float64)
        ya = np.asarray(y, dtype=np.float64)
        col = np.floor((xa - self.x0) / self.cell_size_m).astype(np.int64)
        # Cells are half-open [minx, maxx) x [miny, maxy): count rows from the south, then flip.
        row = self.ny - 1 - np.floor((ya - self.y0) / self.cell_size_m).astype(np.int64)
        inside = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)
        return np.where(inside, row, -1), np.where(inside, col, -1), inside

    def flat_index(self, row: npt.ArrayLike, col: npt.ArrayLike) -> IntArray:
        """Row-major flat index of (row, col)."""
        return np.asarray(row, dtype=np.int64) * self.nx + np.asarray(col, dtype=np.int64)

    def cell_bounds(self, row: int, col: int) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) of one cell in metres."""
        c = self.cell_size_m
        minx = self.x0 + col * c
        maxy = self.y1 - row * c
        return (minx, maxy - c, minx + c, maxy)

    def cell_id(self, row: int, col: int) -> str:
        """Stable id of a cell: cell size and lower-left corner, e.g. ``150m_576450_168300``."""
        minx, miny, _, _ = self.cell_bounds(row, col)
        return f"{self.cell_size_m:g}m_{minx:.0f}_{miny:.0f}"

    def transform(self) -> tuple[float, float, float, float, float, float]:
        """GDAL/affine geotransform coefficients (a, b, c, d, e, f) for a north-up raster."""
        return (self.cell_size_m, 0.0, self.x0, 0.0, -self.cell_size_m, self.y1)


def parse_cell_id(cell_id: str) -> tuple[float, float, float]:
    """Return (cell_size_m, minx, miny) from an id made by :meth:`Grid.cell_id`."""
    size, e, n = cell_id.split("_")
    if not size.endswith("m"):
        raise ValueError(f"not a cell id: {cell_id!r}")
    return float(size[:-1]), float(e), float(n)
