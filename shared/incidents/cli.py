"""``csp incidents``: import incident files with a progress bar and a summary of rejected rows."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shared.incidents.registry import SOURCES

app = typer.Typer(
    help="Shared incidents: crime/ASB, road collisions, water, fire.", no_args_is_help=True
)
console = Console(stderr=True)


@app.command("import")
def import_cmd(
    files: list[Path] = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    source: str = typer.Option(..., "--source", help=" | ".join(SOURCES)),
    show_errors: int = typer.Option(20, help="How many rejected rows to print per file"),
) -> None:
    """Import FILES (CSV or zip); bad rows are reported with their line, good rows are kept."""
    from shared.cli import _session, fail
    from shared.extent import partnership_extent
    from shared.incidents.store import import_file
    from shared.settings import CommonSettings

    if source not in SOURCES:
        fail(f"unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    extent = partnership_extent(CommonSettings().extent_margin_m)
    table = Table("file", "read", "added", "already there", "rejected")
    rejected_total = 0
    with (
        _session() as s,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar,
    ):
        task = bar.add_task("parsing", total=None)
        for f in files:
            bar.update(task, description=f"importing {f.name}")
            try:
                records = import_file(
                    s,
                    f,
                    source=source,
                    actor="cli",
                    progress=lambda n: bar.advance(task, n),
                    extent=extent,
                )
                s.commit()
            except Exception as exc:  # noqa: BLE001 - one clear line per failed file
                s.rollback()
                fail(f"{f}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
            for r in records:
                table.add_row(
                    r.file_name,
                    str(r.rows_read),
                    str(r.rows_added),
                    str(r.rows_existing),
                    str(r.rows_rejected),
                )
                rejected_total += r.rows_rejected
                for w in r.warnings or []:
                    console.print(f"  {r.file_name}: warning: {w}", highlight=False)
                for e in r.errors[:show_errors]:
                    console.print(f"  {e['file']}:{e['line']}: {e['reason']}", highlight=False)
                if r.rows_rejected > show_errors:
                    console.print(f"  ... and {r.rows_rejected - show_errors} more rejected rows")
    Console().print(table)
    console.print(f"done: {rejected_total} row(s) rejected" if rejected_total else "done")


@app.command("summary")
def summary() -> None:
    """Counts by source and category."""
    from shared.cli import _session
    from shared.incidents.store import category_counts

    table = Table("source", "category", "incidents")
    with _session() as s:
        for src, cat, n in category_counts(s):
            table.add_row(src, cat, str(n))
    Console().print(table)


@app.command("sources")
def sources() -> None:
    """The incident sources files can be imported as, with their file layout and times."""
    table = Table("source", "file format", "times", "description")
    for fmt in SOURCES.values():
        times = "months" if fmt.month_only else "exact"
        table.add_row(fmt.name, fmt.file_format, times, fmt.description)
    Console().print(table)
