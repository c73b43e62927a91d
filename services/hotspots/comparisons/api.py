"""Routes of comparisons of two periods: start one (a background job like a surface run), list
and read them, the difference COG, the changed areas (GeoJSON, GeoPackage, CSV) and the table
by ward (JSON, CSV). The change map is a page (``web.pages``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from services.hotspots import jobs
from services.hotspots.comparisons import service
from services.hotspots.comparisons.schemas import (
    ComparisonCreate,
    ComparisonPage,
    ComparisonRead,
    WardChangeRead,
    WardTable,
)
from services.hotspots.compute.exports import GPKG, polygons_gpkg, table_csv
from services.hotspots.deps import (
    GEOJSON,
    Analyst,
    AnyRole,
    ComparisonId,
    Downloader,
    LimitsDep,
    OutputDir,
)
from services.hotspots.enums import RunStatus
from services.hotspots.models import SurfaceComparison
from shared.db import SessionDep
from shared.idempotency import IdempotencyKey
from shared.web.deps import AppSettings
from shared.web.params import Page, paging

KIND = jobs.COMPARISONS
router = APIRouter(tags=["comparisons"])
ComparisonsPage = Annotated[Page, Depends(paging(default=50, maximum=500))]
CSV = "text/csv; charset=utf-8"


def comparison_read(row: SurfaceComparison) -> ComparisonRead:
    """A comparison as the API shows it (the ward table at its own link), links once done."""
    base = f"/comparisons/{row.id}"
    links = {"self": base}
    if row.status == RunStatus.DONE:
        links.update(
            surface=f"{base}.tif",
            areas=f"{base}/areas",
            areas_gpkg=f"{base}/areas.gpkg",
            areas_csv=f"{base}/areas.csv",
            wards=f"{base}/wards",
            wards_csv=f"{base}/wards.csv",
            map=f"{base}/map",
        )
    stats = {k: v for k, v in (row.stats or {}).items() if k != "wards"}
    return ComparisonRead(**jobs.read_fields(row), stats=stats, links=links)


@router.post("/comparisons", status_code=202, response_model=ComparisonRead)
def create_comparison(
    request: Request,
    body: ComparisonCreate,
    session: SessionDep,
    who: Analyst,
    limits: LimitsDep,
    output_dir: OutputDir,
    settings: AppSettings,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Compare two periods (the same incidents and KDE settings); 202 with where to poll it.

    Refused (422) before any work: periods out of order or overlapping, a period the incident
    data do not cover ("no incident data for this window"), no incidents in either period, a
    grid over the cell limit.
    """
    row, created = service.create_comparison(
        session, body=body, actor=who.actor, idempotency_key=idempotency_key, limits=limits
    )
    from services.hotspots.tasks import start_job

    row = start_job(session, KIND, row, created, settings.celery_eager, output_dir, limits)
    read = comparison_read(row)
    return JSONResponse(
        read.model_dump(mode="json"), status_code=202, headers={"Location": read.links["self"]}
    )


@router.get("/comparisons", response_model=ComparisonPage)
def list_comparisons(session: SessionDep, who: AnyRole, page: ComparisonsPage) -> ComparisonPage:
    """Comparisons, newest first."""
    rows, total = service.list_comparisons(session, limit=page.limit, offset=page.offset)
    return ComparisonPage(
        items=[comparison_read(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/comparisons/{comparison_id}.tif", response_class=FileResponse)
def comparison_tif(
    comparison_id: ComparisonId, session: SessionDep, who: Downloader, output_dir: OutputDir
) -> FileResponse:
    """The difference surface (after minus before, per 30 days) as a COG (EPSG:27700)."""
    row = service.get_comparison(session, comparison_id=comparison_id)
    return FileResponse(
        service.tif_file(row, output_dir=output_dir),
        media_type="image/tiff; application=geotiff; profile=cloud-optimized",
        filename=f"difference-{comparison_id}.tif",
    )


@router.get("/comparisons/{comparison_id}", response_model=ComparisonRead)
def get_comparison(
    comparison_id: ComparisonId, session: SessionDep, who: AnyRole
) -> ComparisonRead:
    """A comparison's status, progress (0..1), parameters, summary statistics and links."""
    return comparison_read(service.get_comparison(session, comparison_id=comparison_id))


@router.get("/comparisons/{comparison_id}/areas")
def comparison_areas(
    comparison_id: ComparisonId, session: SessionDep, who: Downloader
) -> JSONResponse:
    """Each area that is a hotspot in either period and its change (GeoJSON, WGS84)."""
    gj = service.areas_geojson(session, comparison_id=comparison_id)
    return JSONResponse(gj, media_type=GEOJSON)


def _attachment(filename: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}"'}


@router.get(
    "/comparisons/{comparison_id}/areas.gpkg",
    response_class=Response,
    responses={200: {"content": {GPKG: {}}, "description": "GeoPackage, EPSG:27700"}},
)
def comparison_areas_gpkg(
    comparison_id: ComparisonId, session: SessionDep, who: Downloader
) -> Response:
    """The changed areas as a GeoPackage (EPSG:27700), the comparison's settings as metadata."""
    row, rows, geoms = service.area_rows(session, comparison_id=comparison_id)
    p = row.params
    meta = {
        "comparison": str(comparison_id),
        "period_before": f"{p['before']['from']}/{p['before']['to']}",
        "period_after": f"{p['after']['from']}/{p['after']['to']}",
        "parameters": _json(p),
        "units": str((row.stats or {}).get("units", "")),
        "crs": "EPSG:27700",
    }
    data = polygons_gpkg(
        rows,
        geoms,
        layer=f"changes_comparison_{comparison_id}",
        description="Hotspot areas of two periods and what became of each",
        metadata=meta,
    )
    return Response(data, media_type=GPKG, headers=_attachment(f"changes-{comparison_id}.gpkg"))


def _json(value: object) -> str:
    import json

    return json.dumps(value, sort_keys=True, ensure_ascii=False)


@router.get(
    "/comparisons/{comparison_id}/areas.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per changed area"}},
)
def comparison_areas_csv(
    comparison_id: ComparisonId, session: SessionDep, who: Downloader
) -> Response:
    """The table by hotspot as CSV (text cells formula-neutralised)."""
    _, rows, _ = service.area_rows(session, comparison_id=comparison_id)
    return Response(
        table_csv(service.AREA_COLUMNS, rows),
        media_type=CSV,
        headers=_attachment(f"changes-{comparison_id}.csv"),
    )


@router.get("/comparisons/{comparison_id}/wards", response_model=WardTable)
def comparison_wards(comparison_id: ComparisonId, session: SessionDep, who: AnyRole) -> WardTable:
    """The table by ward: incidents and hotspot area in each period, and what changed."""
    rows = service.ward_rows(session, comparison_id=comparison_id)
    return WardTable(comparison=comparison_id, items=[WardChangeRead(**r) for r in rows])


@router.get(
    "/comparisons/{comparison_id}/wards.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One row per ward"}},
)
def comparison_wards_csv(
    comparison_id: ComparisonId, session: SessionDep, who: Downloader
) -> Response:
    """The table by ward as CSV (text cells formula-neutralised)."""
    rows = service.ward_rows(session, comparison_id=comparison_id)
    return Response(
        table_csv(service.WARD_COLUMNS, rows),
        media_type=CSV,
        headers=_attachment(f"wards-{comparison_id}.csv"),
    )
