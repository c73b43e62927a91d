"""Surfaces as Cloud-Optimized GeoTIFFs in EPSG:27700: written with their parameters, read back
as (array, Grid, tags) after checking the CRS, orientation, alignment and size."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
from affine import Affine
from rasterio.crs import CRS
from rasterio.io import MemoryFile
from rasterio.shutil import copy as rio_copy

from services.hotspots.compute.errors import field_error
from services.hotspots.compute.points import FloatArray
from services.hotspots.compute.surfaces import DENSITY_UNITS, SurfaceResult
from shared.grid import Grid

UNITS = DENSITY_UNITS


def write_cog(
    path: str | Path,
    surface: npt.ArrayLike,
    grid: Grid,
    *,
    tags: dict[str, str],
    nodata: float = -9999.0,
) -> None:
    """Write ``surface`` (shape grid.shape, row 0 north) as a float32 COG with overviews.

    Cells that are 0 or NaN (no incident within the radius) are written as ``nodata``. The
    ``units`` tag defaults to "incidents per km2"; every other tag is written as given.
    """
    arr = np.asarray(surface, dtype=np.float64)
    if arr.shape != grid.shape:
        raise ValueError(f"surface shape {arr.shape} does not match grid {grid.shape}")
    data = np.where(np.isnan(arr) | (arr == 0.0), nodata, arr).astype(np.float32)
    profile = {
        "driver": "GTiff",
        "width": grid.nx,
        "height": grid.ny,
        "count": 1,
        "dtype": "float32",
        "crs": CRS.from_epsg(27700),
        "transform": Affine(*grid.transform()),
        "nodata": nodata,
    }
    all_tags = {"units": UNITS, **{str(k): str(v) for k, v in tags.items()}}
    # Build in memory as a plain GeoTIFF, then let GDAL's COG driver lay out tiles and overviews.
    with MemoryFile() as mem:
        with mem.open(**profile) as tmp:
            tmp.write(data, 1)
            tmp.update_tags(**all_tags)
            tmp.set_band_unit(1, all_tags["units"])
        with mem.open() as src:
            rio_copy(
                src,
                str(path),
                driver="COG",
                COMPRESS="DEFLATE",
                PREDICTOR="YES",
                BLOCKSIZE="256",
                OVERVIEWS="AUTO",
                RESAMPLING="AVERAGE",
            )


def write_surface_tif(path: str | Path, result: SurfaceResult) -> Path:
    """Write the surface as a float32 Cloud Optimized GeoTIFF (EPSG:27700) that says what it is.

    Cells that are 0 or NaN are nodata (no incident within reach, or outside the study area).
    The tags name the categories, period, sources, method, kernel, radius, cell, weighting and
    hotspot threshold (``compute.tags``), besides the parameters as JSON.
    """
    from services.hotspots.compute.tags import surface_tags

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tags = {
        "units": str(result.stats.get("units", DENSITY_UNITS)),
        "kind": result.kind,
        "parameters": json.dumps(result.params, sort_keys=True),
        **{f"param_{k}": str(v) for k, v in result.params.items()},
        "incidents": str(result.stats.get("incidents", "")),
        "crs": "EPSG:27700",
        **surface_tags(result.kind, result.params, result.stats, result.selection),
    }
    write_cog(p, result.surface, result.grid, tags=tags)
    return p


def read_surface_tif(
    path: str | Path, *, max_cells: int | None = None
) -> tuple[FloatArray, Grid, dict[str, str]]:
    """Read a single-band surface in EPSG:27700 back as (array (ny, nx), Grid, tags).

    With ``max_cells`` a larger raster is refused (``GridTooLarge``) before it is read.
    """
    import rasterio

    from shared.extent import check_cells

    with rasterio.open(path) as src:
        if max_cells is not None:
            check_cells(src.width, src.height, max_cells, what="surface")
        if src.crs is None or src.crs.to_epsg() != 27700:
            raise field_error(
                "surface", "the surface must be in EPSG:27700 (British National Grid)"
            )
        t = src.transform
        if t.b != 0 or t.d != 0 or t.a != -t.e:
            raise field_error("surface", "the surface must be north-up with square cells")
        arr = src.read(1, masked=True).astype(np.float64).filled(np.nan)
        tags = dict(src.tags())
        ny, nx = arr.shape
        try:
            grid = Grid(cell_size_m=t.a, x0=t.c, y0=t.f - ny * t.a, nx=nx, ny=ny)
        except ValueError as exc:
            raise field_error("surface", f"grid not aligned to its cell size: {exc}") from exc
    return arr, grid, tags
