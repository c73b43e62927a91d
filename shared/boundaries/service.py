"""Boundary areas in the database: load a file into a layer, list layers, find the ward of points.

Functions take the session first and run inside the caller's transaction (the caller commits
once), so a reload that fails leaves the layer as it was.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from geoalchemy2.shape import from_shape, to_shape
from sqlalchemy import bindparam, delete, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION
from sqlalchemy.orm import Session

from shared.boundaries.geojson import Feature
from shared.boundaries.layers import Layer
from shared.boundaries.models import BoundaryArea
from shared.boundaries.reader import BoundaryFileError, RowProblem, read_boundaries
from shared.geometry import BNG


@dataclass
class LoadReport:
    """What one load did: areas stored (replacing how many), features refused, repairs."""

    layer: str
    source: str
    features: int
    loaded: int
    replaced: int
    code_field: str
    name_field: str
    problems: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)

    def summary(self) -> str:
        """One line for people: counts and the columns used."""
        refused = f", {len(self.problems)} refused" if self.problems else ""
        return (
            f"{self.layer}: {self.loaded} areas from {self.features} features of {self.source}"
            f" (code {self.code_field}, name {self.name_field}){refused};"
            f" replaced {self.replaced}"
        )


@dataclass(frozen=True)
class LayerSummary:
    """A stored layer: how many areas, from which source, when."""

    layer: str
    areas: int
    source: str
    loaded_at: datetime | None


def load_layer(
    session: Session,
    path: Path,
    *,
    layer: Layer | str,
    code_field: str | None = None,
    name_field: str | None = None,
    source: str | None = None,
) -> LoadReport:
    """Replace ``layer`` with the areas of ``path``; refused features are reported, not stored.

    Raises ``BoundaryFileError`` (422) when the file cannot be read or has no usable area; the
    layer is then left as it was.
    """
    kind = _layer(layer)
    read = read_boundaries(path, layer=kind, code_field=code_field, name_field=name_field)
    if not read.areas:
        first = (
            f"; feature {read.problems[0].row}: {read.problems[0].reason}" if read.problems else ""
        )
        raise BoundaryFileError(
            f"{path.name} has no usable area ({read.features} features){first}; "
            f"the {kind.value} layer is left as it was",
            errors=[{"row": p.row, "reason": p.reason} for p in read.problems[:100]],
        )
    origin = source or path.name
    replaced = session.execute(delete(BoundaryArea).where(BoundaryArea.layer == kind.value))
    session.add_all(
        BoundaryArea(
            layer=kind.value,
            code=a.code,
            name=a.name,
            geom=from_shape(a.geom, srid=BNG),
            source=origin,
        )
        for a in read.areas
    )
    session.flush()
    return LoadReport(
        layer=kind.value,
        source=origin,
        features=read.features,
        loaded=len(read.areas),
        replaced=int(getattr(replaced, "rowcount", 0) or 0),
        code_field=read.code_field,
        name_field=read.name_field,
        problems=read.problems,
        warnings=read.warnings,
    )


def _layer(layer: Layer | str) -> Layer:
    try:
        return Layer(layer)
    except ValueError:
        choices = ", ".join(v.value for v in Layer)
        raise BoundaryFileError(f"unknown layer {layer!r}; choose one of {choices}") from None


def list_layers(session: Session) -> list[LayerSummary]:
    """Every layer with its number of areas, source(s) and newest load time (empty: 0 areas)."""
    rows = session.execute(
        select(
            BoundaryArea.layer,
            func.count(),
            func.string_agg(func.distinct(BoundaryArea.source), ", "),
            func.max(BoundaryArea.loaded_at),
        ).group_by(BoundaryArea.layer)
    ).all()
    found = {r[0]: LayerSummary(r[0], int(r[1]), str(r[2] or ""), r[3]) for r in rows}
    return [found.get(v.value, LayerSummary(v.value, 0, "", None)) for v in Layer]


def layer_version(session: Session, layer: Layer | str) -> str:
    """A cheap fingerprint of a stored layer that changes with every load (ids are new)."""
    kind = _layer(layer).value
    n, top, when = session.execute(
        select(func.count(), func.max(BoundaryArea.id), func.max(BoundaryArea.loaded_at)).where(
            BoundaryArea.layer == kind
        )
    ).one()
    return f"{kind}:{n}:{top}:{when.isoformat() if when else ''}"


def layer_features(session: Session, layer: Layer | str) -> list[Feature]:
    """Every area of ``layer`` (EPSG:27700), ordered by code."""
    rows = session.execute(
        select(BoundaryArea.code, BoundaryArea.name, BoundaryArea.geom)
        .where(BoundaryArea.layer == _layer(layer).value)
        .order_by(BoundaryArea.code)
    ).all()
    return [Feature(r.code, r.name, to_shape(r.geom)) for r in rows]


_AREA_FOR_POINTS = text(
    """
    SELECT p.i, a.code, a.name
    FROM unnest(CAST(:xs AS double precision[]), CAST(:ys AS double precision[]))
         WITH ORDINALITY AS p(x, y, i)
    LEFT JOIN LATERAL (
        SELECT b.code, b.name FROM core.boundary_areas b
        WHERE b.layer = :layer
          AND ST_Covers(b.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 27700))
        ORDER BY b.code
        LIMIT 1
    ) a ON true
    ORDER BY p.i
    """
).bindparams(
    bindparam("xs", type_=ARRAY(DOUBLE_PRECISION)),
    bindparam("ys", type_=ARRAY(DOUBLE_PRECISION)),
)


def areas_for_points(
    session: Session, points_bng: Sequence[tuple[float, float]], *, layer: Layer | str
) -> list[tuple[str, str] | None]:
    """The (code, name) of the ``layer`` area holding each EPSG:27700 point, in one query.

    A point in no area (or with a non-finite coordinate) gives None; a point on the line
    between two areas gets the one whose code sorts first.
    """
    if not points_bng:
        return []
    xs = [float(x) if math.isfinite(x) else None for x, _ in points_bng]
    ys = [float(y) if math.isfinite(y) else None for _, y in points_bng]
    rows = session.execute(
        _AREA_FOR_POINTS, {"xs": xs, "ys": ys, "layer": _layer(layer).value}
    ).all()
    return [(r.code, r.name) if r.code is not None else None for r in rows]


def ward_for_points(
    session: Session, points_bng: Sequence[tuple[float, float]]
) -> list[str | None]:
    """The name of the ward holding each EPSG:27700 (x, y) point, None outside every ward."""
    return [a[1] if a else None for a in areas_for_points(session, points_bng, layer=Layer.WARD)]


def ward_at(session: Session, x: float, y: float) -> str | None:
    """The name of the ward holding the EPSG:27700 point (x, y), or None."""
    return ward_for_points(session, [(x, y)])[0]
