"""Routes of the safety sites: road-casualty cluster sites and the water-safety site register."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from services.hotspots.deps import GEOJSON, Analyst, AnyRole, LimitsDep, SiteId
from services.hotspots.models import WaterSite
from services.hotspots.schemas import Day, WaterSiteCreate, WaterSiteRead
from services.hotspots.sites import road, water
from shared.db import SessionDep

router = APIRouter()


@router.get("/sites/road", tags=["sites"])
def road_sites(
    session: SessionDep,
    who: AnyRole,
    limits: LimitsDep,
    min_collisions: Annotated[int, Query(ge=1, le=1000)] = 4,
    radius_m: Annotated[float, Query(gt=0, le=5000)] = 50.0,
    years: Annotated[float, Query(gt=0, le=50)] = 3.0,
    end: Day | None = None,
) -> JSONResponse:
    """Road-casualty cluster sites from the STATS19 collisions (GeoJSON, ranked by KSI)."""
    gj = road.road_sites_geojson(
        session,
        min_collisions=min_collisions,
        radius_m=radius_m,
        years=years,
        end=end,
        limits=limits,
    )
    return JSONResponse(gj, media_type=GEOJSON)


def water_read(site: WaterSite, warnings: list[str] | None = None) -> WaterSiteRead:
    """A water site as the API shows it (with the warnings of its registration, if any)."""
    return WaterSiteRead(
        id=site.id,
        name=site.name,
        kind=site.kind,
        notes=site.notes,
        geometry=water.water_site_geometry(site),
        created_at=site.created_at,
        links={
            "counts": f"/water/sites/{site.id}/counts",
            "density": f"/water/sites/{site.id}/density",
        },
        warnings=warnings or [],
    )


@router.get("/water/sites", tags=["water"])
def list_water_sites(session: SessionDep, who: AnyRole) -> JSONResponse:
    """The water-safety site register as GeoJSON (WGS84)."""
    feats = []
    for s in water.list_water_sites(session):
        r = water_read(s)
        feats.append(
            {
                "type": "Feature",
                "id": r.id,
                "geometry": r.geometry,
                "properties": {"name": r.name, "kind": r.kind, "notes": r.notes, "links": r.links},
            }
        )
    return JSONResponse({"type": "FeatureCollection", "features": feats}, media_type=GEOJSON)


@router.post("/water/sites", status_code=201, response_model=WaterSiteRead, tags=["water"])
def create_water_site(
    body: WaterSiteCreate, session: SessionDep, who: Analyst, limits: LimitsDep
) -> WaterSiteRead:
    """Register an access point (Point) or a stretch of bank (LineString), lon/lat.

    It must lie within the partnership's outline plus margin (one in the margin comes back with
    a warning) and a bank may have at most 50,000 vertices.
    """
    site, warnings = water.create_water_site(session, body=body, actor=who.actor, limits=limits)
    return water_read(site, warnings)


@router.get("/water/sites/{site_id}/counts", tags=["water"])
def water_counts(
    site_id: SiteId,
    session: SessionDep,
    who: AnyRole,
    limits: LimitsDep,
    period: Literal["year", "quarter", "month"] = "quarter",
    snap_m: Annotated[float, Query(gt=0, le=2000)] = 100.0,
) -> dict[str, Any]:
    """Water incidents at the site by severity and period (each at its nearest site)."""
    return water.water_site_counts(
        session, site_id=site_id, period=period, snap_m=snap_m, limits=limits
    )


@router.get("/water/sites/{site_id}/density", tags=["water"])
def water_density(
    site_id: SiteId,
    session: SessionDep,
    who: AnyRole,
    limits: LimitsDep,
    bandwidth_m: Annotated[float, Query(gt=0, le=10_000)] = 200.0,
    step_m: Annotated[float, Query(ge=1, le=10_000)] = 25.0,
    snap_m: Annotated[float, Query(gt=0, le=2000)] = 100.0,
) -> dict[str, Any]:
    """Quartic KDE of water incidents along a bank stretch, per km of bank."""
    return water.water_site_density(
        session,
        site_id=site_id,
        bandwidth_m=bandwidth_m,
        step_m=step_m,
        snap_m=snap_m,
        limits=limits,
    )
