"""``csp assets``: register commands (import a camera CSV with a progress bar and a summary)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from services.assets.settings import AssetsSettings

app = typer.Typer(help="CCTV asset register.", no_args_is_help=True)
console = Console(stderr=True)


def _session() -> tuple[Session, AssetsSettings]:
    from services.assets.settings import AssetsSettings
    from shared.db import make_engine, make_sessionmaker

    settings = AssetsSettings()
    engine = make_engine(settings.database_url, connect_timeout_s=settings.db_connect_timeout_s)
    return make_sessionmaker(engine)(), settings


@app.command("import")
def import_csv(
    file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        readable=True,
        help="CSV: camera_id,location,area_name,area_code,lon,lat",
    ),
    actor: str = typer.Option("csp assets import", help="Name recorded in the audit trail"),
) -> None:
    """Import a camera register CSV; re-importing updates instead of duplicating."""
    from sqlalchemy.exc import SQLAlchemyError

    from services.assets.register_import import import_cameras_csv
    from shared.cli import database_error_line
    from shared.errors import AppError

    content = file.read_bytes()
    # Physical lines after the header; CR-only files (spreadsheets' "CSV (Macintosh)") too.
    total = max(max(content.count(b"\n"), content.count(b"\r")) - 1, 0)
    session, settings = _session()
    with (
        session,
        Progress(
            TextColumn("importing {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console,
        ) as progress,
    ):
        task = progress.add_task(file.name, total=total)
        try:
            result = import_cameras_csv(
                session,
                content=content,
                file_name=file.name,
                actor=actor,
                review_interval_days=settings.review_interval_days,
                progress=lambda n: progress.advance(task, n),
            )
        except AppError as exc:
            console.print(f"[red]error:[/red] {exc.detail}", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from exc
        except SQLAlchemyError as exc:
            console.print(
                f"[red]error:[/red] {database_error_line(exc)}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(1) from exc
        except Exception as exc:  # noqa: BLE001 - one clear line for the operator
            console.print(f"[red]error:[/red] {type(exc).__name__}: {str(exc).splitlines()[0]}")
            raise typer.Exit(1) from exc
    r = result.record
    table = Table("read", "added", "updated", "unchanged", "rejected")
    table.add_row(
        *(
            str(v)
            for v in (r.rows_read, r.rows_added, r.rows_updated, r.rows_unchanged, r.rows_rejected)
        )
    )
    Console().print(table)
    for w in result.warnings:
        console.print(f"warning: {w}", highlight=False, soft_wrap=True)
    for e in result.errors:
        console.print(f"line {e['line']}: {e['reason']}", highlight=False, soft_wrap=True)
    if r.rows_rejected:
        raise typer.Exit(2)
