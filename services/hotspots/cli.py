"""``csp hotspots``: KDE and Gi* surfaces, road-casualty sites and surface evaluation.

Heavy libraries (numba, rasterio, folium) are imported inside the commands so ``csp --help``
stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

if TYPE_CHECKING:
    from services.hotspots.pipeline import Points, SurfaceResult

app = typer.Typer(help="Hotspots: KDE and Gi* surfaces, road-casualty sites, evaluation.",
                  no_args_is_help=True)
console = Console(stderr=True)

FLAGS = {"radius_m": "--radius", "cell_m": "--cell", "neighbourhood": "--neighbourhood",
         "input": "--input", "format": "--format", "percentile": "--percentile",
         "method": "--method", "kernel": "--kernel", "min_collisions": "--min-collisions",
         "years": "--years", "surface": "--surface", "min_bin": "--confidence", "bbox": "--bbox"}

InputOpt = typer.Option(None, "--input", exists=True, dir_okay=False, readable=True,
                        help="Incident file (CSV or zip); without it the database is read")
FormatOpt = typer.Option("police", "--format", help="police | stats19 | generic")
CatOpt = typer.Option(None, "--categories", help="Comma-separated categories to keep")
FromOpt = typer.Option(None, "--from", help="First day (YYYY-MM-DD), inclusive")
ToOpt = typer.Option(None, "--to", help="Last day (YYYY-MM-DD), inclusive")
SourcesOpt = typer.Option(None, "--sources", help="Database sources, comma-separated")


def _fail(message: str) -> None:
    from shared.cli import fail

    fail(message)


def parse_day(value: str | None, flag: str, *, end: bool = False) -> datetime | None:
    """A YYYY-MM-DD (or ISO datetime) option; an end date-only value includes that whole day."""
    if value is None:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        _fail(f"{flag}: {value!r} is not a date (YYYY-MM-DD)")
        raise AssertionError from None
    if end and len(value) <= 10:
        d += timedelta(days=1)
    return d


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@contextmanager
def _spinner(text: str) -> Iterator[Callable[[float, str], None]]:
    """A rich progress bar; yields ``progress(fraction, message)``."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(text, total=1.0)

        def progress(fraction: float, message: str) -> None:
            bar.update(task, completed=fraction, description=message)

        yield progress


@contextmanager
def _errors() -> Iterator[None]:
    """Turn parameter and input errors into one clear line and a non-zero exit."""
    from services.hotspots.pipeline import ParamError

    try:
        yield
    except ParamError as exc:
        _fail(f"{FLAGS.get(exc.field, exc.field)}: {exc.message}")
    except (OSError, ValueError) as exc:
        _fail(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def _limits() -> tuple[int, float]:
    """(max_grid_cells, extent_margin_m) from the settings (CSP_MAX_GRID_CELLS, ...)."""
    from shared.settings import CommonSettings

    s = CommonSettings()
    return s.max_grid_cells, s.extent_margin_m


def _max_cells() -> int:
    return _limits()[0]


def load(
    input_file: Path | None,
    fmt: str,
    *,
    categories: list[str] | None,
    start: datetime | None,
    end: datetime | None,
    sources: list[str] | None,
) -> Points:
    """Incidents from a file (filtered here) or from the database (filtered in SQL)."""
    from services.hotspots.pipeline import Points, filter_points, points_from_file

    if input_file is not None:
        from shared.extent import partnership_extent

        pts = points_from_file(input_file, fmt=fmt, extent=partnership_extent(_limits()[1]))
        if pts.rejected:
            console.print(f"{pts.rejected} row(s) of {input_file.name} rejected (not placed)")
        return filter_points(pts, categories=categories, start=start, end=end)
    from services.hotspots.limits import Limits
    from shared.cli import _session
    from shared.incidents.store import load_points

    box = Limits(max_cells=_limits()[0], margin_m=_limits()[1]).allowed_box()
    try:
        with _session() as s:
            ip = load_points(s, sources=sources, categories=categories, start=start, end=end,
                             bbox_m=box)
    except Exception as exc:  # noqa: BLE001 - one clear line for the operator
        _fail(f"cannot read incidents from the database: {type(exc).__name__}")
        raise AssertionError from exc
    return Points(ip.x, ip.y, ip.weight, ip.t, ip.category)


def write_outputs(
    result: SurfaceResult, out: Path | None, polygons: Path | None, map_html: Path | None
) -> None:
    """Write whichever of the COG, polygons GeoJSON and HTML map were asked for."""
    from services.hotspots.pipeline import shapes_geojson, surface_map, write_surface_tif

    gj = shapes_geojson(result.shapes, result.params)
    if out:
        write_surface_tif(out, result)
        console.print(f"surface: {out} ({result.grid.nx}x{result.grid.ny} cells of "
                      f"{result.grid.cell_size_m:g} m, EPSG:27700)")
    if polygons:
        polygons.parent.mkdir(parents=True, exist_ok=True)
        polygons.write_text(json.dumps(gj))
        console.print(f"polygons: {polygons} ({len(gj['features'])} hotspots)")
    if map_html:
        from shared.maps import render_map_html

        m = surface_map(result.surface, result.grid, gj, title=result.kind.upper(),
                        units=str(result.stats.get("units", "")),
                        diverging=result.kind == "gistar")
        map_html.parent.mkdir(parents=True, exist_ok=True)
        map_html.write_text(render_map_html(m))
        console.print(f"map: {map_html}")


def _summary(result: SurfaceResult) -> None:
    s = result.stats
    typer.echo(json.dumps({"parameters": result.params, "incidents": s["incidents"],
                           "hotspots": len(result.shapes), "max": s["max"],
                           "compute_seconds": s["compute_seconds"]}))


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
    from services.hotspots.pipeline import compute_kde

    start = parse_day(date_from, "--from")
    end = parse_day(date_to, "--to", end=True)
    with _errors():
        with _spinner("reading incidents") as progress:
            pts = load(input_file, fmt, categories=_split(categories), start=start, end=end,
                       sources=_split(sources))
            progress(0.1, f"{len(pts)} incidents")
            result = compute_kde(pts, method=method, kernel=kernel, radius_m=radius, cell_m=cell,
                                 percentile=percentile, progress=progress,
                                 max_cells=_max_cells())
            progress(0.8, "writing outputs")
            write_outputs(result, out, polygons, map_html)
    _summary(result)


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
    from services.hotspots.pipeline import compute_gistar

    bins = {90: 1, 95: 2, 99: 3}
    if confidence not in bins:
        _fail("--confidence: must be 90, 95 or 99")
    start = parse_day(date_from, "--from")
    end = parse_day(date_to, "--to", end=True)
    with _errors():
        with _spinner("reading incidents") as progress:
            pts = load(input_file, fmt, categories=_split(categories), start=start, end=end,
                       sources=_split(sources))
            result = compute_gistar(pts, cell_m=cell, neighbourhood_cells=neighbourhood,
                                    min_bin=bins[confidence], progress=progress,
                                    max_cells=_max_cells())
            progress(0.8, "writing outputs")
            write_outputs(result, out, polygons, map_html)
    _summary(result)


@app.command("sites")
def sites_cmd(
    input_file: Path | None = typer.Option(None, "--input", exists=True, dir_okay=False,
                                           help="STATS19 collision file; default the database"),
    min_collisions: int = typer.Option(4, "--min-collisions"),
    radius: float = typer.Option(50.0, "--radius", help="Radius, m"),
    years: float = typer.Option(3.0, "--years", help="Window length, years, ending at --to"),
    date_to: str | None = typer.Option(None, "--to", help="End of the window (default: latest)"),
    out: Path | None = typer.Option(None, "--out", help="Write the sites (GeoJSON)"),
) -> None:
    """Road-casualty cluster sites: N+ collisions within r metres in T years, ranked by KSI."""
    from rich.table import Table

    from services.hotspots.pipeline import road_sites, sites_geojson

    end = parse_day(date_to, "--to", end=True)
    with _errors():
        with _spinner("reading collisions"):
            pts = load(input_file, "stats19", categories=None, start=None, end=None,
                       sources=["stats19"])
            sites = road_sites(pts, min_collisions=min_collisions, radius_m=radius, years=years,
                               end=end, max_pairs=_max_cells())
        params = {"min_collisions": min_collisions, "radius_m": radius, "years": years,
                  "end": date_to}
        gj = sites_geojson(sites, params)
        if out:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(gj))
            console.print(f"sites: {out}")
    table = Table("rank", "collisions", "KSI", "first", "last", "easting", "northing")
    for s in sites[:30]:
        table.add_row(str(s.rank), str(s.n_collisions), f"{s.ksi_sum:.2f}", str(s.first)[:10],
                      str(s.last)[:10], f"{s.centroid_x:.0f}", f"{s.centroid_y:.0f}")
    Console().print(table)
    console.print(f"{len(sites)} site(s) from {len(pts)} collisions")


@app.command("evaluate")
def evaluate_cmd(
    surface: Path = typer.Option(..., "--surface", exists=True, dir_okay=False,
                                 help="Surface COG from `csp hotspots kde`"),
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
    from services.hotspots.pipeline import read_surface_tif

    start = parse_day(date_from, "--from")
    end = parse_day(date_to, "--to", end=True)
    with _errors():
        arr, grid, _ = read_surface_tif(surface, max_cells=_max_cells())
        pts = load(input_file, fmt, categories=_split(categories), start=start, end=end,
                   sources=_split(sources))
        if len(pts) == 0:
            _fail("--input: no incidents to evaluate against")
        rows = evaluate_surface(arr, grid, pts.x, pts.y)
    table = Table("area", "cells", "hits", "total", "hit rate", "PAI")
    for r in rows:
        table.add_row(f"{100 * float(r['area_fraction']):.1f}%", str(r["cells"]), str(r["hits"]),
                      str(r["total"]), f"{100 * float(r['hit_rate']):.1f}%",
                      f"{float(r['pai']):.2f}")
    Console().print(table)
    typer.echo(json.dumps(_jsonable(rows)))


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: (float(v) if not isinstance(v, int) else v) for k, v in r.items()} for r in rows]
