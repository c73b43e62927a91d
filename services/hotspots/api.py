"""HTTP routes of the hotspots service: surface runs, evaluation, road and water sites."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse

from services.hotspots import service
from services.hotspots.leases import run_message
from services.hotspots.limits import Limits
from services.hotspots.models import SurfaceRun, WaterSite
from services.hotspots.schemas import (
    Day,
    EvaluateRequest,
    EvaluationRead,
    RunPage,
    RunRead,
    SurfaceCreate,
    WaterSiteCreate,
    WaterSiteRead,
)
from shared.auth import AnyRole, Principal, require
from shared.db import SessionDep
from shared.errors import ServiceUnavailable
from shared.idempotency import IdempotencyKey

router = APIRouter()
Analyst = Annotated[Principal, Depends(require("analyst"))]
GEOJSON = "application/geo+json"
# PostgreSQL's OFFSET is a bigint; the OGC API pages with the same bound.
MAX_OFFSET = 10**9
# Ids are PostgreSQL integers: a longer one is a 422 before the database sees it (a 5,000-digit
# id was a 500: Python refuses to parse it, PostgreSQL to compare it).
INT32_MAX = 2**31 - 1
RunId = Annotated[int, PathParam(ge=1, le=INT32_MAX, description="Surface run id")]
SiteId = Annotated[int, PathParam(ge=1, le=INT32_MAX, description="Water site id")]


def _limits(request: Request) -> Limits:
    return Limits.of(request.app.state.settings)


def _output_dir(request: Request) -> Path:
    return Path(request.app.state.settings.output_dir)


def run_read(run: SurfaceRun, base: str = "") -> RunRead:
    """A run as the API shows it, with links to its outputs once done."""
    links = {"self": f"{base}/surfaces/{run.id}"}
    if run.status == "done":
        links.update(
            surface=f"{base}/surfaces/{run.id}.tif",
            polygons=f"{base}/surfaces/{run.id}/polygons",
            map=f"{base}/surfaces/{run.id}/map",
            evaluate=f"{base}/surfaces/{run.id}/evaluate",
            ogc=f"{base}/ogc/collections/hotspots/items?run={run.id}",
        )
    return RunRead(
        id=run.id, status=run.status, progress=run.progress, parameters=run.params,  # type: ignore[arg-type]
        stats=run.stats or {}, error=run.error, message=run_message(run),
        attempts=run.attempts or 0, created_by=run.created_by,
        created_at=run.created_at, started_at=run.started_at, finished_at=run.finished_at,
        links=links,
    )


def _dispatch(request: Request, session: SessionDep, run: SurfaceRun) -> SurfaceRun:
    """Run in-process in eager (demo/test) mode, otherwise queue the Celery task."""
    settings = request.app.state.settings
    if settings.celery_eager:
        return service.run_surface(session, run.id, output_dir=_output_dir(request),
                                   limits=_limits(request))
    from services.hotspots.tasks import compute_surface

    try:
        compute_surface.delay(run.id)
    except Exception as exc:  # noqa: BLE001 - broker down: the run stays queued
        raise ServiceUnavailable(
            f"Run {run.id} is queued but the job queue cannot be reached; retry the POST "
            "with the same Idempotency-Key", internal=repr(exc)
        ) from exc
    return run


@router.post("/surfaces", status_code=202, response_model=RunRead, tags=["surfaces"])
def create_surface(
    request: Request,
    body: SurfaceCreate,
    session: SessionDep,
    who: Analyst,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Start a KDE (or Gi*) surface run; 202 with the run and where to poll it."""
    run, created = service.create_run(session, body=body, actor=who.actor,
                                      idempotency_key=idempotency_key, limits=_limits(request))
    if created or run.status == "queued":
        run = _dispatch(request, session, run)
    read = run_read(run)
    return JSONResponse(read.model_dump(mode="json"), status_code=202,
                        headers={"Location": read.links["self"]})


@router.get("/surfaces", response_model=RunPage, tags=["surfaces"])
def list_surfaces(
    session: SessionDep,
    who: AnyRole,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> RunPage:
    """Surface runs, newest first."""
    runs, total = service.list_runs(session, limit=limit, offset=offset)
    return RunPage(items=[run_read(r) for r in runs], total=total, limit=limit, offset=offset)


@router.get("/surfaces/{run_id}.tif", tags=["surfaces"], response_class=FileResponse)
def surface_tif(request: Request, run_id: RunId, session: SessionDep, who: AnyRole) -> FileResponse:
    """The run's surface as a Cloud Optimized GeoTIFF (EPSG:27700)."""
    run = service.get_run(session, run_id=run_id)
    path = service.tif_file(run, output_dir=_output_dir(request))
    return FileResponse(path, media_type="image/tiff; application=geotiff; profile=cloud-optimized",
                        filename=f"surface-{run_id}.tif")


@router.get("/surfaces/{run_id}/surface.tif", tags=["surfaces"], response_class=FileResponse)
def surface_tif_alias(
    request: Request, run_id: RunId, session: SessionDep, who: AnyRole
) -> FileResponse:
    """Same as ``/surfaces/{id}.tif``."""
    return surface_tif(request, run_id, session, who)


@router.get("/surfaces/{run_id}", response_model=RunRead, tags=["surfaces"])
def get_surface(run_id: RunId, session: SessionDep, who: AnyRole) -> RunRead:
    """A run's status, progress (0..1), parameters, summary statistics and links."""
    return run_read(service.get_run(session, run_id=run_id))


@router.get("/surfaces/{run_id}/polygons", tags=["surfaces"])
def surface_polygons(run_id: RunId, session: SessionDep, who: AnyRole) -> JSONResponse:
    """The run's hotspot polygons (GeoJSON, WGS84) with the run's parameters."""
    return JSONResponse(service.run_polygons(session, run_id=run_id), media_type=GEOJSON)


@router.get("/surfaces/{run_id}/map", tags=["surfaces"], response_class=HTMLResponse)
def surface_map(request: Request, run_id: RunId, session: SessionDep, who: AnyRole) -> HTMLResponse:
    """A standalone folium map of the run (surface overlay, polygons, legend)."""
    html = service.run_map_html(session, run_id=run_id, output_dir=_output_dir(request),
                                limits=_limits(request))
    return HTMLResponse(html)


@router.post("/surfaces/{run_id}/evaluate", response_model=EvaluationRead, tags=["surfaces"])
def evaluate_surface(
    request: Request, run_id: RunId, body: EvaluateRequest, session: SessionDep, who: Analyst
) -> dict[str, Any]:
    """Hit rate and PAI at 1%, 5%, 10% of the area against incidents in [from, to]."""
    return service.evaluate_run(session, run_id=run_id, body=body,
                                output_dir=_output_dir(request), limits=_limits(request))


@router.get("/sites/road", tags=["sites"])
def road_sites(
    request: Request,
    session: SessionDep,
    who: AnyRole,
    min_collisions: Annotated[int, Query(ge=1, le=1000)] = 4,
    radius_m: Annotated[float, Query(gt=0, le=5000)] = 50.0,
    years: Annotated[float, Query(gt=0, le=50)] = 3.0,
    end: Day | None = None,
) -> JSONResponse:
    """Road-casualty cluster sites from the STATS19 collisions (GeoJSON, ranked by KSI)."""
    gj = service.road_sites_geojson(session, min_collisions=min_collisions, radius_m=radius_m,
                                    years=years, end=end, limits=_limits(request))
    return JSONResponse(gj, media_type=GEOJSON)


def water_read(site: WaterSite, warnings: list[str] | None = None) -> WaterSiteRead:
    """A water site as the API shows it (with the warnings of its registration, if any)."""
    return WaterSiteRead(
        id=site.id, name=site.name, kind=site.kind, notes=site.notes,
        geometry=service.water_site_geometry(site), created_at=site.created_at,
        links={"counts": f"/water/sites/{site.id}/counts",
               "density": f"/water/sites/{site.id}/density"},
        warnings=warnings or [],
    )


@router.get("/water/sites", tags=["water"])
def list_water_sites(session: SessionDep, who: AnyRole) -> JSONResponse:
    """The water-safety site register as GeoJSON (WGS84)."""
    feats = []
    for s in service.list_water_sites(session):
        r = water_read(s)
        feats.append({"type": "Feature", "id": r.id, "geometry": r.geometry,
                      "properties": {"name": r.name, "kind": r.kind, "notes": r.notes,
                                     "links": r.links}})
    return JSONResponse({"type": "FeatureCollection", "features": feats}, media_type=GEOJSON)


@router.post("/water/sites", status_code=201, response_model=WaterSiteRead, tags=["water"])
def create_water_site(
    request: Request, body: WaterSiteCreate, session: SessionDep, who: Analyst
) -> WaterSiteRead:
    """Register an access point (Point) or a stretch of bank (LineString), lon/lat.

    It must lie within the partnership's outline plus margin (one in the margin comes back with
    a warning) and a bank may have at most 50,000 vertices.
    """
    site, warnings = service.create_water_site(session, body=body, actor=who.actor,
                                               limits=_limits(request))
    return water_read(site, warnings)


@router.get("/water/sites/{site_id}/counts", tags=["water"])
def water_counts(
    request: Request,
    site_id: SiteId,
    session: SessionDep,
    who: AnyRole,
    period: Literal["year", "quarter", "month"] = "quarter",
    snap_m: Annotated[float, Query(gt=0, le=2000)] = 100.0,
) -> dict[str, Any]:
    """Water incidents at the site by severity and period (each at its nearest site)."""
    return service.water_site_counts(session, site_id=site_id, period=period, snap_m=snap_m,
                                     limits=_limits(request))


@router.get("/water/sites/{site_id}/density", tags=["water"])
def water_density(
    request: Request,
    site_id: SiteId,
    session: SessionDep,
    who: AnyRole,
    bandwidth_m: Annotated[float, Query(gt=0, le=10_000)] = 200.0,
    step_m: Annotated[float, Query(ge=1, le=10_000)] = 25.0,
    snap_m: Annotated[float, Query(gt=0, le=2000)] = 100.0,
) -> dict[str, Any]:
    """Quartic KDE of water incidents along a bank stretch, per km of bank."""
    return service.water_site_density(session, site_id=site_id, bandwidth_m=bandwidth_m,
                                      step_m=step_m, snap_m=snap_m, limits=_limits(request))
