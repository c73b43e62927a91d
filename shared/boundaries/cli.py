"""``csp boundaries``: load a boundary file into a layer (ward, lsoa, outline) and list layers."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from shared.boundaries.layers import LAYERS
from shared.cli import _database, console, fail

app = typer.Typer(
    help="Boundary areas drawn on every map (outline, wards, LSOAs).", no_args_is_help=True
)
# Refused features printed one a line; the rest are counted.
SHOWN_PROBLEMS = 50


@app.command("load")
def boundaries_load(
    file: Path = typer.Argument(..., help="GeoJSON, GeoPackage or shapefile (any CRS)"),
    layer: str = typer.Option(..., "--layer", help=" | ".join(LAYERS)),
    code_field: str | None = typer.Option(None, "--code-field", help="Column of area codes"),
    name_field: str | None = typer.Option(None, "--name-field", help="Column of area names"),
) -> None:
    """Replace a layer with the areas of FILE; refused features are listed with their number."""
    from shared.boundaries.service import load_layer

    if layer not in LAYERS:
        fail(f"unknown layer {layer!r}; choose one of {', '.join(LAYERS)}")
    with _database() as s:
        report = load_layer(s, file, layer=layer, code_field=code_field, name_field=name_field)
        s.commit()
    for p in report.problems[:SHOWN_PROBLEMS]:
        console.print(f"feature {p.row}: refused, {p.reason}", highlight=False)
    if len(report.problems) > SHOWN_PROBLEMS:
        console.print(f"... and {len(report.problems) - SHOWN_PROBLEMS} more refused")
    for w in report.warnings[:SHOWN_PROBLEMS]:
        console.print(f"feature {w.row}: {w.reason}", highlight=False)
    console.print(report.summary(), highlight=False)


@app.command("list")
def boundaries_list() -> None:
    """List the layers: how many areas each holds, from which file, when loaded."""
    from shared.boundaries.service import list_layers

    table = Table("layer", "areas", "source", "loaded")
    with _database() as s:
        for row in list_layers(s):
            table.add_row(row.layer, str(row.areas), row.source, str(row.loaded_at or "")[:16])
    Console().print(table)
