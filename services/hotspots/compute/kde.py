"""Hotspot KDE surfaces: shared.kde with the service's default radius and cell-size rules."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from shared.grid import Grid
from shared.kde import KERNELS, default_cell_m, default_radius_m, kde_surface

__all__ = [
    "KERNELS",
    "KdeResult",
    "compute_kde",
    "default_cell_m",
    "default_radius_m",
    "kde_surface",
]


@dataclass(frozen=True)
class KdeResult:
    """A KDE surface (incidents per km^2, shape grid.shape) and the parameters that made it."""

    surface: npt.NDArray[np.float64]
    grid: Grid
    radius_m: float
    cell_size_m: float
    kernel: str
    method: str

    def params(self) -> dict[str, str]:
        """Parameters as strings, for raster tags and GeoJSON properties."""
        return {
            "radius_m": f"{self.radius_m:.3f}",
            "cell_size_m": f"{self.cell_size_m:g}",
            "kernel": self.kernel,
            "method": self.method,
            "units": "incidents per km2",
            "crs": "EPSG:27700",
        }


def compute_kde(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    weights: npt.ArrayLike | None = None,
    radius_m: float | None = None,
    cell_size_m: float | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    kernel: str = "quartic",
    method: str = "exact",
) -> KdeResult:
    """KDE over an aligned grid, filling the radius and cell size by the ArcGIS rules if unset.

    Args:
        x, y: incident coordinates in EPSG:27700 metres, shape (n,).
        weights: optional weights, shape (n,).
        radius_m: search radius; default ``default_radius_m``.
        cell_size_m: cell size; default ``default_cell_m`` of ``bounds``.
        bounds: (minx, miny, maxx, maxy) in metres to cover; default the incidents' extent.
        kernel, method: as in ``shared.kde.kde_surface``.

    Returns:
        KdeResult with the surface on ``Grid.covering(bounds, cell)``.
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.size == 0:
        raise ValueError("no incidents to estimate a density from")
    if bounds is None:
        bounds = (float(xa.min()), float(ya.min()), float(xa.max()), float(ya.max()))
    r = float(radius_m) if radius_m is not None else default_radius_m(xa, ya, weights)
    cell = float(cell_size_m) if cell_size_m is not None else default_cell_m(*bounds)
    grid = Grid.covering(*bounds, cell)
    surface = kde_surface(xa, ya, grid, r, weights=weights, kernel=kernel, method=method)
    return KdeResult(surface, grid, r, cell, kernel, method)
