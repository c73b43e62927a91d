"""``csp hotspots``: KDE and Gi* surfaces, road-casualty sites and surface evaluation.

Heavy libraries (numba, rasterio, folium) are imported inside the commands so ``csp --help``
stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from services.hotspots.cli_support import (
    FORMATS,
    OnProgress,
    console,
    fail,
    load,
    max_cells,
    one_line_errors,
    parse_day,
    progress_bar,
    split_list,
    surface_command,
)

if TYPE_CHECKING:
    from services.hotspots.compute.points import Points
    from services.hotspots.compute.surfaces import SurfaceResult

app = typer.Typer(
    help="Hotspots: KDE and Gi* surfaces, road-casualty sites, evaluation.", no_args_is_help=True
)

InputOpt = typer.Option(
    None,
    "--input",
    exists=True,
    dir_okay=False,
    readable=True,
    help="Incident file (CSV or zip); without it the database is read",
)
FormatOpt = typer.Option("police", "--format", help=" | ".join(FORMATS))
CatOpt = typer.Option(None, "--categories", help="Comma-separated categories to keep")
FromOpt = typer.Option(None, "--from", help="First day (YYYY-MM-DD), inclusive")
ToOpt = typer.Option(None, "--to", help="Last day (YYYY-MM-DD), inclusive")
SourcesOpt = typer.Option(None, "--sources", help="Database sources, comma-separated")


@app.command("kde")
def kde_cmd(
    input_file: Path | None = InputOpt,
    fmt: str = FormatOpt,
    method: str = typer.Option("exact", "--method", help="exact | fast"),
    radius: float | None = typer.Option(
        None, "--radius", help="Search radius, m (default: ArcGIS rule)"
    ),
    cell: float | None = typer.Option(None, "--cell", help="Cell size, m (default: extent/250)"),
    kernel: str = typer.Option(
        "quartic", "--kernel", help="quartic | triweight | epanechnikov | uniform | triangular"
    ),
    categories: str | None = CatOpt,
    date_from: str | None = FromOpt,
    date_to: str | None = ToOpt,
    sources: str | None = SourcesOpt,
    percentile: float = typer.Option(
        95.0, "--percentile", help="Hotspot cut-off percentile of non-zero cells"
    ),
    out: Path | None = typer.Option(None, "--out", help="Write the surface as a COG (.tif)"),
    polygons: Path | None = typer.Option(
        None, "--polygons", help="Write hotspot polygons (GeoJSON)"
    ),
    map_html: Path | None = typer.Option(None, "--map", help="Write a folium map (HTML)"),
) -> None:
    """Kernel density surface (incidents per km²) and hotspot polygons."""
    from services.hotspots.compute.surfaces import compute_kde

    def compute(pts: Points, progress: OnProgress) -> SurfaceResult:
        return compute_kde(
            pts,
            method=method,
            kernel=kernel,
            radius_m=radius,
            cell_m=cell,
            percentile=percentile,
            progress=progress,
            max_cells=max_cells(),
        )

    surface_command(
        compute,
        input_file,
        fmt,
        categories=categories,
        date_from=date_from,
        date_to=date_to,
        sources=sources,
        outputs=(out, polygons, map_html),
    )


@app.command("gistar")
def gistar_cmd(
    input_file: Path | None = InputOpt,
    fmt: str = FormatOpt,
    cell: float | None = typer.Option(None, "--cell", help="Cell size, m (default: extent/250)"),
    neighbourhood: float = typer.Option(1.0, "--neighbourhood", help="Window radius in cells"),
    confidence: int = typer.Option(95, "--confidence", help="Hot-spot polygons at 90 | 95 | 99 %"),
    categories: str | None = CatOpt,
    date_from: str | None = FromOpt,
    date_to: str | None = ToOpt,
    sources: str | None = SourcesOpt,
    out: Path | None = typer.Option(None, "--out", help="Write the z-score surface (COG)"),
    polygons: Path | None = typer.Option(None, "--polygons", help="Write hot-spot polygons"),
    map_html: Path | None = typer.Option(None, "--map", help="Write a folium map (HTML)"),
) -> None:
    """Getis-Ord Gi* hot spots (FDR-corrected) over a grid of counts."""
    from services.hotspots.compute.surfaces import compute_gistar

    bins = {90: 1, 95: 2, 99: 3}
    if confidence not in bins:
        fail("--confidence: must be 90, 95 or 99")

    def compute(pts: Points, progress: OnProgress) -> SurfaceResult:
        return compute_gistar(
            pts,
            cell_m=cell,
            neighbourhood_cells=neighbourhood,
            min_bin=bins[confidence],
            progress=progress,
            max_cells=max_cells(),
        )

    surface_command(
        compute,
        input_file,
        fmt,
        categories=categories,
        date_from=date_from,
        date_to=date_to,
        sources=sources,
        outputs=(out, polygons, map_html),
    )


@app.command("sites")
def sites_cmd(
    input_file: Path | None = typer.Option(
        None,
        "--input",
        exists=True,
        dir_okay=False,
        help="STATS19 collision file; default the database",
    ),
    min_collisions: int = typer.Option(4, "--min-collisions"),
    radius: float = typer.Option(50.0, "--radius", help="Radius, m"),
    years: float = typer.Option(3.0, "--years", help="Window length, years, ending at --to"),
    date_to: str | None = typer.Option(None, "--to", help="End of the window (default: latest)"),
    out: Path | None = typer.Option(None, "--out", help="Write the sites (GeoJSON)"),
) -> None:
    """Road-casualty cluster sites: N+ collisions within r metres in T years, ranked by KSI."""
    from rich.table import Table

    from services.hotspots.compute.clusters import road_sites
    from services.hotspots.compute.geojson import sites_geojson

    end = parse_day(date_to, "--to", end=True)
    with one_line_errors():
        with progress_bar("reading collisions"):
            pts = load(
                input_file, "stats19", categories=None, start=None, end=None, sources=["stats19"]
            )
            sites = road_sites(
                pts,
                min_collisions=min_collisions,
                radius_m=radius,
                years=years,
                end=end,
                max_pairs=max_cells(),
            )
        params = {
            "min_collisions": min_collisions,
            "radius_m": radius,
            "years": years,
            "end": date_to,
        }
        gj = sites_geojson(sites, params)
        if out:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(gj))
            console.print(f"sites: {out}")
    table = Table("rank", "collisions", "KSI", "first", "last", "easting", "northing")
    for s in sites[:30]:
        table.add_row(
            str(s.rank),
            str(s.n_collisions),
            f"{s.ksi_sum:.2f}",
            str(s.first)[:10],
            str(s.last)[:10],
            f"{s.centroid_x:.0f}",
            f"{s.centroid_y:.0f}",
        )
    Console().print(table)
    console.print(f"{len(sites)} site(s) from {len(pts)} collisions")


@app.command("evaluate")
def evaluate_cmd(
    surface: Path = typer.Option(
        ..., "--surface", exists=True, dir_okay=False, help="Surface COG from `csp hotspots kde`"
    ),
    input_file: Path | None = InputOpt,
    fmt: str = FormatOpt,
    categories: str | None = CatOpt,
    date_from: str | None = FromOpt,
    date_to: str | None = ToOpt,
    sources: str | None = SourcesOpt,
) -> None:
    """Hit rate and PAI of the surface's hottest 1%, 5% and 10% of cells on later incidents."""
    from rich.table import Table

    from services.hotspots.compute.evaluate import evaluate_surface
    from services.hotspots.compute.raster import read_surface_tif

    start = parse_day(date_from, "--from")
    end = parse_day(date_to, "--to", end=True)
    with one_line_errors():
        arr, grid, _ = read_surface_tif(surface, max_cells=max_cells())
        pts = load(
            input_file,
            fmt,
            categories=split_list(categories),
            start=start,
            end=end,
            sources=split_list(sources),
        )
        if len(pts) == 0:
            fail("--input: no incidents to evaluate against")
        rows = evaluate_surface(arr, grid, pts.x, pts.y)
    table = Table("area", "cells", "hits", "total", "hit rate", "PAI")
    for r in rows:
        table.add_row(
            f"{100 * float(r['area_fraction']):.1f}%",
            str(r["cells"]),
            str(r["hits"]),
            str(r["total"]),
            f"{100 * float(r['hit_rate']):.1f}%",
            f"{float(r['pai']):.2f}",
        )
    Console().print(table)
    typer.echo(json.dumps(_jsonable(rows)))


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (float(v) if not isinstance(v, int) else v) for k, v in r.items()} for r in rows]
