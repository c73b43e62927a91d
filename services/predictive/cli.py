"""``csp predict``: fit, score and backtest forecast methods on incident files; make daily lists.

Heavy modules (numba, the compute package, matplotlib) are imported inside the commands so that
``csp --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from services.predictive.agencies.defaults import DEFAULTS
from services.predictive.compute.methods import AUTO, default_methods
from services.predictive.event_files import (
    FORMATS,
    day_start,
    grid_over,
    read_events,
    split_categories,
    warn,
)
from shared.cli import ROOT, _session, console, fail

if TYPE_CHECKING:
    from shared.grid import Grid

app = typer.Typer(
    help="Predictive target boxes: fit, score, backtest, daily lists.", no_args_is_help=True
)

SHARED_DATA = ROOT.parent / "shared" / "data"
DEFAULT_WARDS = SHARED_DATA / "boundaries" / "medway_wards_martinjc.geojson"
DEFAULT_OUTLINE = SHARED_DATA / "boundaries" / "medway_lsoa_martinjc.geojson"
METHOD_HELP = " | ".join(default_methods.choices)

InputOpt = typer.Option(..., "--input", "-i", help="CSV/zip file(s) or folder(s) of them")
FormatOpt = typer.Option("police", "--format", "-f", help=" | ".join(FORMATS))
CategoriesOpt = typer.Option(
    None, "--categories", "-c", help="Keep these categories (repeat or comma-separate)"
)
CellOpt = typer.Option(150.0, "--cell", help="Box size in metres")
MethodOpt = typer.Option(AUTO, "--method", help=f"{METHOD_HELP} (naive: naive28)")


@app.command("fit")
def fit(
    inputs: list[Path] = InputOpt,
    fmt: str = FormatOpt,
    categories: list[str] | None = CategoriesOpt,
    cell: float = CellOpt,
    method: str = MethodOpt,
    as_of: str | None = typer.Option(
        None,
        "--as-of",
        help="Fit on events before this date (default: the day after the last event)",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the parameters as JSON"),
) -> None:
    """Fit a method and print its parameters (theta, omega_per_day, background_per_day)."""
    import math

    from services.predictive.compute.selection import forecast

    events = read_events(inputs, fmt, split_categories(categories))
    t_end = day_start(as_of, "--as-of") if as_of else math.floor(float(events.t_days.max())) + 1.0
    train = events.select(events.t_days < t_end)
    if len(train) == 0:
        fail("no events before --as-of")
    try:
        fc = forecast(train, grid_over(train, cell), requested=method, as_of_days=t_end)
    except ValueError as exc:
        fail(str(exc))
        raise
    warn(fc.warnings)
    out = {
        "method": fc.method,
        "requested_method": fc.requested,
        "warnings": fc.warnings,
        "n_events": fc.n_events,
        "cell_size_m": cell,
        "as_of": datetime.fromtimestamp(t_end * 86400.0, tz=UTC).isoformat(),
        "theta": fc.params.get("theta"),
        "omega_per_day": fc.params.get("omega_per_day"),
        "background_per_day": fc.params.get("background_per_day"),
        "params": fc.params,
    }
    if as_json:
        typer.echo(json.dumps(out, indent=2))
    else:
        for k in ("method", "n_events", "theta", "omega_per_day", "background_per_day"):
            typer.echo(f"{k}: {out[k]}")
        for line in choice_lines(fc.params):
            typer.echo(line)


def choice_lines(params: dict[str, Any]) -> list[str]:
    """The method's choice, its reason and the held-out figures it was made on, as text."""
    lines = [f"{k}: {params[k]}" for k in ("choice", "choice_reason") if params.get(k)]
    share = params.get("heldout_area_share")
    area = f"{100 * share:g}% of the area" if isinstance(share, float) else "the area share"
    for key, what in (
        ("heldout_hit_rate_at_k", f"held-out hit rate at {params.get('k_boxes')} boxes"),
        ("heldout_hit_rate_at_area", f"held-out hit rate at {area}"),
        ("heldout_loglik", "held-out log-likelihood"),
    ):
        figures = params.get(key)
        if isinstance(figures, dict) and figures:
            shown = ", ".join(f"{name} {value:.4g}" for name, value in figures.items())
            lines.append(f"{what}: {shown}")
    return lines


@app.command("score")
def score(
    inputs: list[Path] = InputOpt,
    fmt: str = FormatOpt,
    categories: list[str] | None = CategoriesOpt,
    cell: float = CellOpt,
    as_of: str = typer.Option(..., "--as-of", help="Train on events strictly before this date"),
    horizon_days: float = typer.Option(1.0, "--horizon-days", help="Forecast window in days"),
    method: str = MethodOpt,
    out: Path = typer.Option(..., "--out", "-o", help="CSV to write"),
) -> None:
    """Score every box for [as-of, as-of + horizon) and write rank,cell_id,bounds,score."""
    import csv

    from services.predictive.compute.selection import forecast, ranked_cells

    if horizon_days <= 0:
        fail("--horizon-days must be positive")
    events = read_events(inputs, fmt, split_categories(categories))
    t0 = day_start(as_of, "--as-of")
    train = events.select(events.t_days < t0)
    if len(train) == 0:
        fail(f"no events before {as_of}")
    grid = grid_over(train, cell)  # from training events only: later events change nothing
    try:
        fc = forecast(train, grid, requested=method, as_of_days=t0, end_days=horizon_days)
    except ValueError as exc:
        fail(str(exc))
        raise
    warn(fc.warnings)
    order = ranked_cells(fc.scores)
    flat = fc.scores.ravel()
    with out.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(("rank", "cell_id", "minx", "miny", "maxx", "maxy", "score"))
        for rank, idx in enumerate(order.tolist(), start=1):
            r, c = divmod(idx, grid.nx)
            minx, miny, maxx, maxy = grid.cell_bounds(r, c)
            w.writerow(
                (
                    rank,
                    grid.cell_id(r, c),
                    f"{minx:.0f}",
                    f"{miny:.0f}",
                    f"{maxx:.0f}",
                    f"{maxy:.0f}",
                    repr(float(flat[idx])),
                )
            )
    console.print(
        f"{len(order)} boxes scored with {fc.method} from {fc.n_events} events -> {out}",
        highlight=False,
    )


@app.command("backtest")
def backtest(
    inputs: list[Path] = InputOpt,
    fmt: str = FormatOpt,
    categories: list[str] | None = CategoriesOpt,
    cell: float = CellOpt,
    date_from: str = typer.Option(..., "--from", help="First forecast origin (date)"),
    date_to: str = typer.Option(..., "--to", help="Origins run while before this date"),
    step_days: float = typer.Option(7.0, "--step-days"),
    horizon_days: float | None = typer.Option(
        None, "--horizon-days", help="Forecast window (default 1 day; 28 for month-only data)"
    ),
    k: int = typer.Option(20, "--k", help="Boxes chosen per origin"),
    methods: list[str] = typer.Option(
        ["auto,naive28,naive90"],
        "--methods",
        help=f"Methods (repeat or comma-separate): {METHOD_HELP}",
    ),
    plot: Path | None = typer.Option(None, "--plot", help="PNG of hit rate against area"),
    json_out: Path | None = typer.Option(None, "--json-out", help="Write the table as JSON"),
    wards: Path | None = typer.Option(
        None, "--wards", help="Ward GeoJSON for boxes per ward (default Medway)"
    ),
) -> None:
    """Rolling-origin backtest: hit rate and PAI at K boxes, stability, boxes per ward."""
    from services.predictive.compute.backtest import format_table
    from services.predictive.compute.methods import rolling_backtest
    from services.predictive.compute.selection import resolve_method
    from services.predictive.compute.timing import timestamp_quality

    events = read_events(inputs, fmt, split_categories(categories))
    start, end = day_start(date_from, "--from"), day_start(date_to, "--to")
    if end <= start or step_days <= 0 or k < 1:
        fail("need --from before --to, --step-days > 0 and --k >= 1")
    month_only = timestamp_quality(events.t_days).month_only
    horizon = horizon_days or (28.0 if month_only else 1.0)
    grid = grid_over(events, cell)
    wanted = [
        default_methods.canonical(m.strip()) for v in methods for m in v.split(",") if m.strip()
    ]
    labels: dict[str, str] = {}
    for m in dict.fromkeys(wanted):
        if m == AUTO:
            # Resolved on the events before the first origin only (no look-ahead).
            method, warns = resolve_method(
                events.select(events.t_days < start), grid, requested=AUTO
            )
            warn(warns)
            labels[AUTO] = method
        else:
            labels[m] = m
    try:
        real = list(dict.fromkeys(labels.values()))
        sized = {m: {"k_boxes": k} for m in real if default_methods.get(m).takes_k_boxes}
        result = rolling_backtest(
            events,
            grid,
            methods=real,
            start_days=start,
            end_days=end,
            step_days=step_days,
            horizon_days=horizon,
            k_boxes=k,
            method_params=sized,
        )
    except ValueError as exc:
        fail(str(exc))
        raise
    by_method = {row["method"]: row for row in result.table}
    result.table = [
        {**by_method[method], "method": f"auto ({method})" if name == AUTO else name}
        for name, method in labels.items()
    ]
    typer.echo(
        f"horizon {horizon:g} d, step {step_days:g} d, K = {k}, cell {cell:g} m, "
        f"{len(events)} events"
    )
    typer.echo(format_table(result))
    _ward_report(result, grid, labels, wards)
    if plot is not None:
        result.methods = real
        result.plot_png(plot)
        console.print(f"plot -> {plot}", highlight=False)
    if json_out is not None:
        json_out.write_text(
            json.dumps(
                {"horizon_days": horizon, "k": k, "labels": labels, "table": result.table},
                indent=2,
                default=float,
            )
        )


def _ward_report(result: Any, grid: Grid, labels: dict[str, str], wards: Path | None) -> None:
    from services.predictive.compute.areas import read_areas, ward_selection_counts

    path = wards or (DEFAULT_WARDS if DEFAULT_WARDS.is_file() else None)
    if path is None:
        return
    main = labels.get(AUTO) or next(iter(labels.values()))
    counts = ward_selection_counts(result.selection_counts[main], grid, read_areas(path))
    typer.echo(f"\nboxes chosen per ward ({main}, over all origins):")
    for name, n in counts.items():
        typer.echo(f"  {name:<32} {n}")


@app.command("load-boundaries")
def load_boundaries(
    wards: Path = typer.Option(DEFAULT_WARDS, "--wards", help="Ward GeoJSON (WGS84)"),
    outline: Path = typer.Option(
        DEFAULT_OUTLINE, "--outline", help="GeoJSON whose union is the partnership area"
    ),
) -> None:
    """Store the wards and the partnership outline used by daily lists."""
    from services.predictive.agencies.service import ensure_agencies
    from services.predictive.agencies.service import load_boundaries as store_boundaries

    for p in (wards, outline):
        if not p.is_file():
            fail(f"no such file: {p}")
    with _session() as s:
        n, _ = store_boundaries(s, wards_path=wards, outline_path=outline)
        ensure_agencies(s)
        s.commit()
    console.print(f"{n} wards and the outline stored")


@app.command("generate")
def generate(
    agency: str = typer.Option(..., "--agency", help=" | ".join(DEFAULTS)),
    day: str | None = typer.Option(None, "--date", help="List date (default today)"),
    force: bool = typer.Option(False, "--force", help="Refit even if the list exists"),
) -> None:
    """Make (or show) an agency's list for a date from the incidents in the database."""
    from services.predictive.dates import today_london
    from services.predictive.lists.service import get_or_create_list
    from services.predictive.schemas import YEARS, in_years
    from shared.errors import AppError
    from shared.extent import GridTooLarge

    try:
        d = in_years(date.fromisoformat(day)) if day else today_london()
    except ValueError:
        fail(f"--date must be YYYY-MM-DD in the years {YEARS[0]} to {YEARS[1]}, got {day!r}")
        raise
    with _session() as s:
        try:
            view, created = get_or_create_list(
                s, agency_code=agency, day=d, generated_by="cli", force=force
            )
        except AppError as exc:
            fail(exc.detail)
            raise
        except GridTooLarge as exc:
            fail(str(exc))
            raise
    warn(view.target_list.warnings)
    state = "made" if created else "already there"
    typer.echo(f"list {view.target_list.id} ({state}): {agency} {d} {view.target_list.method}")
    for b in view.boxes:
        typer.echo(f"{b.rank:>3}  {b.cell_id}  {b.score:.4g}  {b.ward or ''}")


@app.command("near-repeat")
def near_repeat(
    inputs: list[Path] = InputOpt,
    fmt: str = FormatOpt,
    categories: list[str] | None = CategoriesOpt,
    distance_bands: str = typer.Option(
        "0,100,200,400,800", "--distance-bands", help="Band edges in metres, from 0"
    ),
    time_bands: str = typer.Option(
        "0,7,14,28,56", "--time-bands", help="Band edges in days, from 0"
    ),
    permutations: int = typer.Option(99, "--permutations", help="Monte Carlo runs (1 to 999)"),
    as_json: bool = typer.Option(False, "--json", help="Print the table as JSON"),
) -> None:
    """Knox near-repeat table per category: observed / expected pairs and Monte Carlo p."""
    import numpy as np

    from services.predictive.compute.nearrepeat import knox

    def edges(text: str, name: str) -> tuple[float, ...]:
        try:
            return tuple(float(v) for v in text.split(",") if v.strip())
        except ValueError:
            fail(f"{name} must be numbers separated by commas, got {text!r}")
            raise

    d_e, t_e = edges(distance_bands, "--distance-bands"), edges(time_bands, "--time-bands")
    wanted = split_categories(categories)
    groups: list[str | None] = list(wanted) if wanted else [None]
    out = {}
    for cat in groups:
        events = read_events(inputs, fmt, None if cat is None else [cat])
        try:
            tab = knox(events.x, events.y, events.t_days, distance_edges_m=d_e,
                       time_edges_days=t_e, permutations=permutations)  # fmt: skip
        except ValueError as exc:
            fail(str(exc))
            raise
        out[cat or "all"] = tab.as_dict()
        if as_json:
            continue
        typer.echo(f"\n{cat or 'all categories'}: {tab.n_events} incidents, "
                   f"{permutations} permutations (observed/expected, p)")  # fmt: skip
        head = "distance \\ days".ljust(16) + "".join(
            f"{t_e[j]:g}-{t_e[j + 1]:g}".rjust(30) for j in range(len(t_e) - 1)
        )
        typer.echo(head)
        ratio = tab.ratio
        for i in range(len(d_e) - 1):
            cells = "".join(
                f"{tab.observed[i, j]}/{tab.expected[i, j]:.1f} "
                f"{'' if np.isnan(ratio[i, j]) else f'x{ratio[i, j]:.2f}'} "
                f"p={tab.p_value[i, j]:.2f}".rjust(30)
                for j in range(len(t_e) - 1)
            )
            typer.echo(f"{d_e[i]:g}-{d_e[i + 1]:g} m".ljust(16) + cells)
    if as_json:
        typer.echo(json.dumps(out, indent=2))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
