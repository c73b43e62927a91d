"""Incident files for ``csp predict``: read them into Events, report bad rows, grid them.

Errors end the command with one line (``shared.cli.fail``). Heavy modules are imported inside
the functions so that ``csp --help`` stays fast.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from services.predictive.dates import epoch_days, local_midnight
from shared.cli import console, fail
from shared.incidents.registry import SOURCES

if TYPE_CHECKING:
    from services.predictive.compute.events import Events
    from shared.grid import Grid

FORMATS = SOURCES.file_formats(forecast=True)
MAX_ERRORS_SHOWN = 5


def expand_inputs(inputs: list[Path]) -> list[Path]:
    """The CSV and zip files named, or found in the folders named; one-line errors otherwise."""
    files: list[Path] = []
    for p in inputs:
        if p.is_dir():
            files += sorted(q for q in p.iterdir() if q.suffix.lower() in (".csv", ".zip"))
        elif p.is_file():
            files.append(p)
        else:
            fail(f"no such file or folder: {p}")
    if not files:
        fail("no CSV or zip files in the input")
    return files


def split_categories(values: list[str] | None) -> list[str] | None:
    """Categories given repeated or comma-separated, or None for all."""
    if not values:
        return None
    out = [c.strip() for v in values for c in v.split(",") if c.strip()]
    return out or None


def read_events(inputs: list[Path], fmt: str, categories: list[str] | None) -> Events:
    """Parse the files into Events (EPSG:27700 metres, days); rejected rows are reported."""
    import numpy as np

    from services.predictive.compute.events import Events
    from services.predictive.compute.timing import to_days
    from shared.incidents.parsers import parse_file

    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}; choose {' or '.join(FORMATS)}")
    xs: list[float] = []
    ys: list[float] = []
    ts: list[datetime] = []
    ws: list[float] = []
    keep = set(categories) if categories else None
    for path in expand_inputs(inputs):
        try:
            results = parse_file(path, source=fmt)
        except (ValueError, OSError) as exc:
            fail(f"{path}: {exc}")
        for res in results:
            for err in res.errors[:MAX_ERRORS_SHOWN]:
                console.print(f"rejected {err.file}:{err.line}: {err.reason}", highlight=False)
            if len(res.errors) > MAX_ERRORS_SHOWN:
                console.print(
                    f"... {len(res.errors) - MAX_ERRORS_SHOWN} more rejected rows in {res.file}",
                    highlight=False,
                )
            for r in res.rows:
                if keep is None or r.category in keep:
                    xs.append(r.x)
                    ys.append(r.y)
                    ts.append(r.occurred_at)
                    ws.append(r.weight)
    if not xs:
        fail("no usable events in the input" + (" for those categories" if keep else ""))
    return Events(np.array(xs), np.array(ys), to_days(ts), np.array(ws))


def day_start(value: str, name: str) -> float:
    """Local midnight starting the date ``value`` (option ``name``), in days since 1970."""
    try:
        d = date.fromisoformat(value)
    except ValueError:
        fail(f"{name} must be a date YYYY-MM-DD, got {value!r}")
        raise
    return epoch_days(local_midnight(d))


def grid_over(events: Events, cell: float) -> Grid:
    """The aligned grid over the events, refused (naming the limit) past the cell limit."""
    import math

    from shared.extent import GridTooLarge, cells_for_bounds, check_cells
    from shared.grid import Grid
    from shared.settings import common_settings

    if not (math.isfinite(cell) and cell > 0):
        fail("--cell must be a positive number of metres")
    bounds = (
        float(events.x.min()),
        float(events.y.min()),
        float(events.x.max()),
        float(events.y.max()),
    )
    try:
        # Counted before anything is allocated: events spread over the country at a small
        # cell size would otherwise ask for billions of cells.
        nx, ny = cells_for_bounds(*bounds, cell)
        check_cells(nx, ny, common_settings().max_grid_cells, what="grid over the events")
    except (GridTooLarge, ValueError) as exc:
        fail(str(exc))
        raise
    return Grid.covering(*bounds, cell)


def warn(warnings: list[str]) -> None:
    """Print each warning on its own line (stderr)."""
    for w in warnings:
        console.print(f"[yellow]warning:[/yellow] {w}", highlight=False)
