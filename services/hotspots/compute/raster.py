"""Write KDE surfaces as Cloud-Optimized GeoTIFFs in EPSG:27700."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from affine import Affine
from rasterio.crs import CRS
from rasterio.io import MemoryFile
from rasterio.shutil import copy as rio_copy

from shared.grid import Grid

UNITS = "incidents per km2"


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
            tmp.set_band_unit(1, UNITS)
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
