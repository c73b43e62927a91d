"""What the ``csp hotspots`` commands share: incidents read from a file or the database, the
outputs written (COG, polygons, map), the progress bar, dates and one-line errors.

Heavy libraries (numba, rasterio, folium) are imported inside the functions so ``csp --help``
stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from shared.incidents.registry import SOURCES

if TYPE_CHECKING:
    from services.hotspots.compute.points import Points
    from services.hotspots.compute.surfaces import SurfaceResult
    from shared.extent import Extent

console = Console(stderr=True)
OnProgress = Callable[[float, str], None]

# The incident file formats ``--input`` reads (the database has more sources: water, fire).
FORMATS = SOURCES.file_formats()

# The flag of each parameter a computation names in its errors.
FLAGS = {
    "radius_m": "--radius",
    "cell_m": "--cell",
    "neighbourhood": "--neighbourhood",
    "input": "--input",
    "format": "--format",
    "percentile": "--percentile",
    "method": "--method",
    "kernel": "--kernel",
    "min_collisions": "--min-collisions",
    "years": "--years",
    "surface": "--surface",
    "min_bin": "--confidence",
    "bbox": "--bbox",
}


def fail(message: str) -> None:
    """Print one clear line and exit non-zero."""
    from shared.cli import fail as fail_line

    fail_line(message)


def parse_day(value: str | None, flag: str, *, end: bool = False) -> datetime | None:
    """A YYYY-MM-DD (or ISO datetime) option; an end date-only value includes that whole day."""
    if value is None:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        fail(f"{flag}: {value!r} is not a date (YYYY-MM-DD)")
        raise AssertionError from None
    if end and len(value) <= 10:
        d += timedelta(days=1)
    return d


def split_list(value: str | None) -> list[str] | None:
    """A comma-separated option as a list (None when empty)."""
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@contextmanager
def progress_bar(text: str) -> Iterator[OnProgress]:
    """A rich progress bar; yields ``progress(fraction, message)``."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task(text, total=1.0)

        def progress(fraction: float, message: str) -> None:
            bar.update(task, completed=fraction, description=message)

        yield progress


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn parameter and input errors into one clear line and a non-zero exit."""
    from shared.errors import InvalidInput

    try:
        yield
    except InvalidInput as exc:
        for e in exc.errors or []:
            field = str(e["field"])
            fail(f"{FLAGS.get(field, field)}: {e['message']}")
        fail(exc.detail)
    except (OSError, ValueError) as exc:
        fail(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def limits() -> tuple[int, float]:
    """(max_grid_cells, extent_margin_m) from the settings (CSP_MAX_GRID_CELLS, ...)."""
    from shared.settings import CommonSettings

    s = CommonSettings()
    return s.max_grid_cells, s.extent_margin_m


def max_cells() -> int:
    """The grid-cell limit of the settings (CSP_MAX_GRID_CELLS)."""
    return limits()[0]


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
    from services.hotspots.compute.points import Points, filter_points

    if input_file is not None:
        from shared.extent import partnership_extent

        pts = points_from_file(input_file, fmt=fmt, extent=partnership_extent(limits()[1]))
        if pts.rejected:
            console.print(f"{pts.rejected} row(s) of {input_file.name} rejected (not placed)")
        return filter_points(pts, categories=categories, start=start, end=end)
    from services.hotspots.limits import Limits
    from shared.cli import _session
    from shared.incidents.store import load_points

    box = Limits(max_cells=limits()[0], margin_m=limits()[1]).allowed_box()
    try:
        with _session() as s:
            ip = load_points(
                s, sources=sources, categories=categories, start=start, end=end, bbox_m=box
            )
    except Exception as exc:  # noqa: BLE001 - one clear line for the operator
        fail(f"cannot read incidents from the database: {type(exc).__name__}")
        raise AssertionError from exc
    return Points.of(ip)


def points_from_file(path: str | Path, *, fmt: str, extent: Extent | None = None) -> Points:
    """Parse an incident file (police, stats19 or generic CSV/zip) into arrays; bad rows counted.

    Rows outside ``extent`` (default: the partnership's outline and default margin) are bad
    rows, so they never stretch the surface's extent.
    """
    import numpy as np

    from services.hotspots.compute.errors import field_error
    from services.hotspots.compute.points import Points, naive_utc
    from shared.incidents.parsers import parse_file

    if fmt not in FORMATS:
        raise field_error("format", f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    rows = []
    rejected = 0
    for res in parse_file(path, source=fmt, extent=extent):
        rows.extend(res.rows)
        rejected += len(res.errors)
    n = len(rows)
    return Points(
        x=np.fromiter((r.x for r in rows), np.float64, n),
        y=np.fromiter((r.y for r in rows), np.float64, n),
        weight=np.fromiter((r.weight for r in rows), np.float64, n),
        t=np.array([naive_utc(r.occurred_at) for r in rows], dtype="datetime64[s]").reshape(n),
        category=np.array([r.category for r in rows], dtype=str).reshape(n),
        rejected=rejected,
    )


def write_outputs(
    result: SurfaceResult, out: Path | None, polygons: Path | None, map_html: Path | None
) -> None:
    """Write whichever of the COG, polygons GeoJSON and HTML map were asked for."""
    from services.hotspots.compute.geojson import shapes_geojson
    from services.hotspots.compute.raster import write_surface_tif
    from services.hotspots.web.maps import surface_map

    gj = shapes_geojson(result.shapes, result.params)
    if out:
        write_surface_tif(out, result)
        console.print(
            f"surface: {out} ({result.grid.nx}x{result.grid.ny} cells of "
            f"{result.grid.cell_size_m:g} m, EPSG:27700)"
        )
    if polygons:
        polygons.parent.mkdir(parents=True, exist_ok=True)
        polygons.write_text(json.dumps(gj))
        console.print(f"polygons: {polygons} ({len(gj['features'])} hotspots)")
    if map_html:
        from services.hotspots.web.maps import accessible_document
        from shared.maps import Bindings, render_map_html

        bindings = Bindings()
        title = result.kind.upper()
        m = surface_map(
            result.surface,
            result.grid,
            gj,
            title=title,
            units=str(result.stats.get("units", "")),
            diverging=result.kind == "gistar",
            bindings=bindings,
        )
        map_html.parent.mkdir(parents=True, exist_ok=True)
        doc = render_map_html(m, bindings)
        map_html.write_text(accessible_document(doc, title=f"{title}: hotspot map"))
        console.print(f"map: {map_html}")


def _summary(result: SurfaceResult) -> None:
    s = result.stats
    typer.echo(
        json.dumps(
            {
                "parameters": result.params,
                "incidents": s["incidents"],
                "hotspots": len(result.shapes),
                "max": s["max"],
                "compute_seconds": s["compute_seconds"],
            }
        )
    )


def surface_command(
    compute: Callable[[Points, OnProgress], SurfaceResult],
    input_file: Path | None,
    fmt: str,
    *,
    categories: str | None,
    date_from: str | None,
    date_to: str | None,
    sources: str | None,
    outputs: tuple[Path | None, Path | None, Path | None],
) -> None:
    """Read the incidents, ``compute`` a surface, write the (COG, polygons, map) asked for."""
    start = parse_day(date_from, "--from")
    end = parse_day(date_to, "--to", end=True)
    with one_line_errors():
        with progress_bar("reading incidents") as progress:
            pts = load(
                input_file,
                fmt,
                categories=split_list(categories),
                start=start,
                end=end,
                sources=split_list(sources),
            )
            progress(0.1, f"{len(pts)} incidents")
            result = compute(pts, progress)
            # What was asked for, for the COG's tags (what was read the surface knows itself).
            result.selection.update(
                {
                    "categories": split_list(categories),
                    "sources": split_list(sources) or ([fmt] if input_file else None),
                    "from": date_from,
                    "to": date_to,
                }
            )
            progress(0.8, "writing outputs")
            write_outputs(result, *outputs)
    _summary(result)
