"""Road-casualty cluster sites from the STATS19 collisions in the database."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from services.hotspots.compute.clusters import road_sites
from services.hotspots.compute.geojson import sites_geojson
from services.hotspots.compute.points import Points, day_after
from services.hotspots.features import extent_wgs84
from services.hotspots.limits import Limits
from shared.incidents.models import Incident
from shared.incidents.store import load_points

SOURCE = "stats19"


def road_sites_geojson(
    session: Session,
    *,
    min_collisions: int = 4,
    radius_m: float = 50.0,
    years: float = 3.0,
    end: date | None = None,
    limits: Limits | None = None,
) -> dict[str, Any]:
    """Cluster sites from the STATS19 collisions in the database, as WGS84 GeoJSON.

    The search lists at most ``limits.max_cells`` collision pairs (``GridTooLarge``, a 422).
    """
    lim = limits or Limits.defaults()
    pts = Points.of(
        load_points(session, sources=[SOURCE], end=day_after(end), bbox_m=lim.allowed_box())
    )
    sites = road_sites(
        pts,
        min_collisions=min_collisions,
        radius_m=radius_m,
        years=years,
        end=day_after(end),
        max_pairs=lim.max_cells,
    )
    params = {
        "min_collisions": min_collisions,
        "radius_m": radius_m,
        "years": years,
        "end": end.isoformat() if end else None,
        "collisions": len(pts),
    }
    return sites_geojson(sites, params)


def collisions_extent(session: Session) -> tuple[float, float, float, float] | None:
    """The WGS84 bbox of the STATS19 collisions (where sites can be), or None without any."""
    return extent_wgs84(session, Incident.geom, Incident.source == SOURCE)
