"""Routes of surface runs: start one, list and read them, their COG, polygons (GeoJSON and
GeoPackage), hotspot table (CSV) and evaluation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from services.hotspots import jobs
from services.hotspots.compute.exports import GPKG
from services.hotspots.deps import (
    GEOJSON,
    Analyst,
    AnyRole,
    Downloader,
    LimitsDep,
    OutputDir,
    RunId,
)
from services.hotspots.enums import RunStatus
from services.hotspots.models import SurfaceRun
from services.hotspots.runs import coverage, exports, service
from services.hotspots.schemas import (
    CoverageRead,
    CoverageWindowRead,
    Day,
    EvaluateRequest,
    EvaluationRead,
    RunPage,
    RunRead,
    SourcePeriodRead,
    SurfaceCreate,
)
from shared.db import SessionDep
from shared.idempotency import IdempotencyKey
from shared.web.deps import AppSettings
from shared.web.params import Page, paging

KIND = jobs.SURFACE_RUNS
router = APIRouter()
RunsPage = Annotated[Page, Depends(paging(default=50, maximum=500))]


def run_read(run: SurfaceRun, base: str = "") -> RunRead:
    """A run as the API shows it, with links to its outputs once done."""
    links = {"self": f"{base}/surfaces/{run.id}"}
    if run.status == RunStatus.DONE:
        links.update(
            surface=f"{base}/surfaces/{run.id}.tif",
            polygons=f"{base}/surfaces/{run.id}/polygons",
            polygons_gpkg=f"{base}/surfaces/{run.id}/polygons.gpkg",
            table_csv=f"{base}/surfaces/{run.id}/hotspots.csv",
            map=f"{base}/surfaces/{run.id}/map",
            evaluate=f"{base}/surfaces/{run.id}/evaluate",
            ogc=f"{base}/ogc/collections/hotspots/items?run={run.id}",
        )
    return RunRead(**jobs.read_fields(run), stats=run.stats or {}, links=links)


@router.post("/surfaces", status_code=202, response_model=RunRead, tags=["surfaces"])
def create_surface(
    request: Request,
    body: SurfaceCreate,
    session: SessionDep,
    who: Analyst,
    limits: LimitsDep,
    output_dir: OutputDir,
    settings: AppSettings,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Start a KDE (or Gi*) surface run; 202 with the run and where to poll it."""
    run, created = service.create_run(
        session, body=body, actor=who.actor, idempotency_key=idempotency_key, limits=limits
    )
    from services.hotspots.tasks import start_job

    run = start_job(session, KIND, run, created, settings.celery_eager, output_dir, limits)
    read = run_read(run)
    return JSONResponse(
        read.model_dump(mode="json"), status_code=202, headers={"Location": read.links["self"]}
    )


@router.get("/surfaces", response_model=RunPage, tags=["surfaces"])
def list_surfaces(session: SessionDep, who: AnyRole, page: RunsPage) -> RunPage:
    """Surface runs, newest first."""
    runs, total = service.list_runs(session, limit=page.limit, offset=page.offset)
    return RunPage(
        items=[run_read(r) for r in runs], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/surfaces/{run_id}.tif", tags=["surfaces"], response_class=FileResponse)
def surface_tif(
    run_id: RunId, session: SessionDep, who: Downloader, output_dir: OutputDir
) -> FileResponse:
    """The run's surface as a Cloud Optimized GeoTIFF (EPSG:27700)."""
    run = service.get_run(session, run_id=run_id)
    path = service.tif_file(run, output_dir=output_dir)
    return FileResponse(
        path,
        media_type="image/tiff; application=geotiff; profile=cloud-optimized",
        filename=f"surface-{run_id}.tif",
    )


@router.get("/surfaces/{run_id}/surface.tif", tags=["surfaces"], response_class=FileResponse)
def surface_tif_alias(
    run_id: RunId, session: SessionDep, who: Downloader, output_dir: OutputDir
) -> FileResponse:
    """Same as ``/surfaces/{id}.tif``."""
    return surface_tif(run_id, session, who, output_dir)


@router.get("/surfaces/{run_id}", response_model=RunRead, tags=["surfaces"])
def get_surface(run_id: RunId, session: SessionDep, who: AnyRole) -> RunRead:
    """A run's status, progress (0..1), parameters, summary statistics and links."""
    return run_read(service.get_run(session, run_id=run_id))


@router.get("/surfaces/{run_id}/polygons", tags=["surfaces"])
def surface_polygons(run_id: RunId, session: SessionDep, who: Downloader) -> JSONResponse:
    """The run's hotspot polygons (GeoJSON, WGS84) with the run's parameters."""
    return JSONResponse(service.run_polygons(session, run_id=run_id), media_type=GEOJSON)


@router.get(
    "/surfaces/{run_id}/polygons.gpkg",
    tags=["surfaces"],
    response_class=Response,
    responses={200: {"content": {GPKG: {}}, "description": "GeoPackage, EPSG:27700"}},
)
def surface_polygons_gpkg(run_id: RunId, session: SessionDep, who: Downloader) -> Response:
    """The run's hotspot polygons as a GeoPackage (EPSG:27700), its metadata the run's tags."""
    data = exports.hotspots_gpkg(session, run_id=run_id)
    return Response(data, media_type=GPKG, headers=_attachment(f"hotspots-run-{run_id}.gpkg"))


@router.get(
    "/surfaces/{run_id}/hotspots.csv",
    tags=["surfaces"],
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per hotspot"}},
)
def surface_hotspots_csv(run_id: RunId, session: SessionDep, who: Downloader) -> Response:
    """The run's hotspot table as CSV: rank, ward, grid reference, area (km²), incidents inside,
    peak and mean density (text cells formula-neutralised)."""
    text = exports.hotspots_csv(session, run_id=run_id)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers=_attachment(f"hotspots-run-{run_id}.csv"),
    )


def _attachment(filename: str) -> dict[str, str]:
    """A download's Content-Disposition (file names made of ids only, never user text)."""
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


@router.post("/surfaces/{run_id}/evaluate", response_model=EvaluationRead, tags=["surfaces"])
def evaluate_surface(
    run_id: RunId,
    body: EvaluateRequest,
    session: SessionDep,
    who: Analyst,
    limits: LimitsDep,
    output_dir: OutputDir,
) -> dict[str, Any]:
    """Hit rate and PAI at 1%, 5%, 10% of the area against incidents in [from, to]."""
    return service.evaluate_run(
        session, run_id=run_id, body=body, output_dir=output_dir, limits=limits
    )


@router.get("/incidents/coverage", response_model=CoverageRead, tags=["surfaces"])
def incident_coverage(
    session: SessionDep,
    who: AnyRole,
    limits: LimitsDep,
    from_: Annotated[Day | None, Query(alias="from", description="First day, inclusive")] = None,
    to: Annotated[Day | None, Query(description="Last day, inclusive")] = None,
    sources: Annotated[list[str] | None, Query(max_length=10, description="Sources")] = None,
    categories: Annotated[
        list[str] | None, Query(max_length=100, description="Categories (crime types)")
    ] = None,
) -> CoverageRead:
    """The period each incident source covers, and how many incidents a run's window holds.

    A window with none names the newest day with data and the window of the same length
    ending on it (``suggested_from``/``suggested_to``), as the analyst map offers.
    """
    coverage.check_filters(sources=sources, from_=from_, to=to)
    categories = coverage.resolve_categories(session, categories, strict=False)
    box = limits.allowed_box()
    periods = coverage.source_periods(session, box=box)
    win = coverage.check_window(
        session, sources=sources, categories=categories, from_=from_, to=to, box=box
    )
    return CoverageRead(
        sources=[SourcePeriodRead(**vars(p)) for p in periods],
        window=CoverageWindowRead(
            from_=win.from_,
            to=win.to,
            sources=list(sources or []),
            categories=list(categories or []),
            incidents=win.incidents,
            newest_day=win.newest_day,
            suggested_from=win.suggested_from,
            suggested_to=win.suggested_to,
        ),
    )
