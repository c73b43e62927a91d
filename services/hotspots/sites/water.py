"""The water-safety site register: access points and stretches of bank, the incidents at each
site by severity and period, and the density of incidents along a bank."""

from __future__ import annotations

import math
from datetime import UTC
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from services.hotspots.compute.errors import field_error
from services.hotspots.compute.geojson import to_bng_geom, to_wgs84_geom
from services.hotspots.limits import Limits
from services.hotspots.models import WaterSite
from services.hotspots.schemas import WaterSiteCreate
from shared.errors import NotFound
from shared.extent import OutsideExtent

# Positions along a bank the density is given at (length / step_m).
MAX_DENSITY_POSITIONS = 20_000


def create_water_site(
    session: Session, *, body: WaterSiteCreate, actor: str | None, limits: Limits | None = None
) -> tuple[WaterSite, list[str]]:
    """Register a water site (a Point access point or a LineString bank); also its warnings.

    The site must lie within the partnership's outline plus margin; one in the margin is kept
    with a warning. A bank of more than ``limits.max_site_vertices`` vertices is refused.
    """
    from geoalchemy2.shape import from_shape

    lim = limits or Limits.defaults()
    bng = _site_geometry(body, lim)
    ext = lim.extent()
    try:
        ext.check_geometry(bng, what="site")
    except OutsideExtent as exc:
        raise field_error("geometry", str(exc)) from exc
    warnings = []
    if not ext.outline.covers(bng):
        warnings.append(
            f"the site lies (partly) outside {ext.name}, within {ext.margin_m / 1000:g} km of it"
        )
    site = WaterSite(
        name=body.name.strip(),
        kind=body.kind,
        notes=body.notes,
        created_by=actor,
        geom=from_shape(bng, srid=27700),
    )
    session.add(site)
    session.commit()
    return site, warnings


def _site_geometry(body: WaterSiteCreate, lim: Limits) -> Any:
    """The body's geometry checked (type, size, validity, lon/lat), projected to EPSG:27700."""
    from shapely.geometry import shape

    from services.hotspots.compute.water import vertex_count

    want = "Point" if body.kind == "access_point" else "LineString"
    try:
        g = shape(body.geometry)
    except Exception as exc:  # noqa: BLE001 - any malformed GeoJSON
        raise field_error("geometry", "is not valid GeoJSON") from exc
    if vertex_count(g) > lim.max_site_vertices:
        raise field_error("geometry", _too_many_vertices(vertex_count(g), lim))
    if g.geom_type != want or g.is_empty or not g.is_valid:
        raise field_error("geometry", f"a {body.kind} needs a valid {want} (lon/lat)")
    lon_ok = all(-180 <= c[0] <= 180 and -90 <= c[1] <= 90 for c in g.coords)
    if not lon_ok:
        raise field_error("geometry", "coordinates must be lon/lat (WGS84)")
    bng = to_bng_geom(g)
    if not all(math.isfinite(v) for v in bng.bounds):
        raise field_error("geometry", "is outside the British National Grid")
    return bng


def _too_many_vertices(n: int, lim: Limits) -> str:
    return (
        f"has {n:,} vertices; the limit is {lim.max_site_vertices:,}: simplify the bank "
        "line (a vertex every metre or two is plenty)"
    )


def list_water_sites(session: Session) -> list[WaterSite]:
    """Every water site, by id."""
    return list(session.scalars(select(WaterSite).order_by(WaterSite.id)))


def get_water_site(session: Session, *, site_id: int) -> WaterSite:
    """One water site or NotFound."""
    site = session.get(WaterSite, site_id)
    if site is None:
        raise NotFound(f"No water site {site_id}")
    return site


def water_site_geometry(site: WaterSite) -> dict[str, Any]:
    """A site's geometry as WGS84 GeoJSON."""
    from geoalchemy2.shape import to_shape
    from shapely.geometry import mapping

    return dict(mapping(to_wgs84_geom(to_shape(site.geom))))


def _water_incidents(session: Session, *, snap_m: float) -> list[Any]:
    """Water incidents within ``snap_m`` of any site: x, y, severity, time."""
    return list(
        session.execute(
            text(
                "SELECT ST_X(i.geom), ST_Y(i.geom), "
                "COALESCE(i.attributes->>'severity', i.category), i.occurred_at "
                "FROM incidents.incidents i WHERE i.source = 'water' AND EXISTS ("
                "SELECT 1 FROM hotspots.water_sites s WHERE ST_DWithin(i.geom, s.geom, :snap)) "
                "ORDER BY i.id"
            ),
            {"snap": snap_m},
        )
    )


def water_site_counts(
    session: Session,
    *,
    site_id: int,
    period: str = "quarter",
    snap_m: float = 100.0,
    limits: Limits | None = None,
) -> dict[str, Any]:
    """Incidents at one site by severity and period; each incident counts at its nearest site.

    The site's table (periods x severities) is bounded by ``limits.max_cells``.
    """
    import numpy as np
    from geoalchemy2.shape import to_shape

    from services.hotspots.compute.water import site_counts

    lim = limits or Limits.defaults()
    get_water_site(session, site_id=site_id)
    sites = list_water_sites(session)
    rows = _water_incidents(session, snap_m=snap_m)
    xs = np.array([r[0] for r in rows], dtype=np.float64)
    ys = np.array([r[1] for r in rows], dtype=np.float64)
    sev = np.array([r[2] for r in rows], dtype=str)
    ts = np.array(
        [r[3].astimezone(UTC).replace(tzinfo=None) for r in rows], dtype="datetime64[s]"
    ).reshape(len(rows))
    idx = [s.id for s in sites].index(site_id)
    res = site_counts(
        [to_shape(s.geom) for s in sites],
        xs,
        ys,
        sev,
        ts,
        snap_m=snap_m,
        period=period,  # type: ignore[arg-type]  # the API's Literal, checked there
        only=[idx],
        max_cells=lim.max_cells,
    )
    row = res.sites[idx]
    return {
        "site": site_id,
        "period": period,
        "snap_m": snap_m,
        "total": row["total"],
        "by_severity": row["by_severity"],
        "by_period": row["by_period"],
    }


def water_site_density(
    session: Session,
    *,
    site_id: int,
    bandwidth_m: float = 200.0,
    step_m: float = 25.0,
    snap_m: float = 100.0,
    limits: Limits | None = None,
) -> dict[str, Any]:
    """Quartic KDE of water incidents along a bank stretch, per km of bank.

    The work is bounded: at most ``MAX_DENSITY_POSITIONS`` positions along a bank of at most
    ``limits.max_site_vertices`` vertices, each placed and each incident located in log time.
    """
    import numpy as np
    from geoalchemy2.shape import to_shape

    from services.hotspots.compute.water import kde_along_line, points_along, vertex_count
    from shared.geometry import to_wgs84

    lim = limits or Limits.defaults()
    site = get_water_site(session, site_id=site_id)
    if site.kind != "bank_stretch":
        raise field_error("site", "density along the water needs a bank_stretch site")
    line = to_shape(site.geom)
    if vertex_count(line) > lim.max_site_vertices:
        raise field_error("site", _too_many_vertices(vertex_count(line), lim))
    if line.length / step_m > MAX_DENSITY_POSITIONS:
        raise field_error(
            "step_m", f"gives more than {MAX_DENSITY_POSITIONS} positions along this bank"
        )
    rows = session.execute(
        text(
            "SELECT ST_X(geom), ST_Y(geom), weight FROM incidents.incidents "
            "WHERE source = 'water' AND ST_DWithin(geom, "
            "(SELECT geom FROM hotspots.water_sites WHERE id = :id), :snap)"
        ),
        {"id": site_id, "snap": snap_m},
    ).all()
    xs = np.array([r[0] for r in rows], dtype=np.float64)
    ys = np.array([r[1] for r in rows], dtype=np.float64)
    d, dens = kde_along_line(line, xs, ys, bandwidth_m=bandwidth_m, step_m=step_m, snap_m=snap_m)
    xy = points_along(line, d)
    lon, lat = to_wgs84(xy[:, 0], xy[:, 1])
    return {
        "site": site_id,
        "bandwidth_m": bandwidth_m,
        "step_m": step_m,
        "snap_m": snap_m,
        "incidents": len(rows),
        "units": "incidents per km of bank",
        "distance_m": [round(float(v), 2) for v in d],
        "density_per_km": [float(v) for v in dens],
        "positions": [
            [round(float(a), 7), round(float(b), 7)] for a, b in zip(lon, lat, strict=True)
        ],
    }
