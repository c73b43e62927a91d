"""What the hotspots routes take from a request, defined once: who may call (role aliases), the
limits and output folder of the app's settings, int4 id path parameters, the GeoJSON type."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import Depends
from fastapi import Path as PathParam

from services.hotspots.limits import Limits
from services.hotspots.models import MAX_ID
from shared.auth import AnyRole, Principal, require
from shared.web.deps import AppSettings
from shared.web.desktop_auth import DesktopCaller

__all__ = [
    "GEOJSON",
    "AnyRole",
    "Analyst",
    "ComparisonId",
    "Downloader",
    "LimitsDep",
    "OutputDir",
    "RunId",
    "SiteId",
]

GEOJSON = "application/geo+json"

# Starting runs, evaluating them, registering water sites, importing incidents: analysts (and
# admins). Reading anything: any role (``AnyRole``).
Analyst = Annotated[Principal, Depends(require("analyst"))]
# Downloads (COG, GeoPackage, GeoJSON, CSV) are opened by desktop GIS too: a Bearer token, HTTP
# Basic with the token as password (QGIS 3.22, GDAL_HTTP_USERPWD, geopandas) or the session.
Downloader = DesktopCaller

# Ids are PostgreSQL integers: a longer one is a 422 before the database sees it (a 5,000-digit
# id was a 500: Python refuses to parse it, PostgreSQL to compare it).
RunId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Surface run id")]
SiteId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Water site id")]
ComparisonId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Comparison id")]


def limits_of(settings: AppSettings) -> Limits:
    """The limits of the app's settings (CSP_MAX_GRID_CELLS, CSP_EXTENT_MARGIN_M, ...)."""
    return Limits.of(settings)


def output_dir_of(settings: AppSettings) -> Path:
    """The app's output folder (run files live under it)."""
    return Path(settings.output_dir)


LimitsDep = Annotated[Limits, Depends(limits_of)]
OutputDir = Annotated[Path, Depends(output_dir_of)]
