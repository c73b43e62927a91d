"""Persist parsed incidents idempotently and read them back as arrays for analysis.

The database side of ``shared.incidents``: imports only the sources in the registry
(``shared.incidents.registry.SOURCES``), records each file's import with its rejected rows, and
loads incidents as EPSG:27700 arrays.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from shared.extent import Extent
from shared.incidents.models import Incident, IncidentImport
from shared.incidents.parsers import parse_file
from shared.incidents.parsers.results import DEFAULT_LIMITS, FileRejected, ParseResult
from shared.incidents.registry import SOURCES

BATCH = 5000
MAX_ERRORS_KEPT = 5000


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def store_result(
    session: Session,
    result: ParseResult,
    *,
    source: str,
    sha256: str,
    actor: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> IncidentImport:
    """Insert the good rows of one parsed file; rows already present are counted, not duplicated.

    Runs inside the caller's transaction: the caller commits once, so a failure leaves nothing.
    """
    record = IncidentImport(
        source=source,
        file_name=result.file[:400],
        sha256=sha256,
        rows_read=len(result.rows) + len(result.errors),
        rows_added=0,
        rows_existing=0,
        rows_rejected=len(result.errors),
        errors=[
            {"file": e.file, "line": e.line, "reason": e.reason, "raw": e.raw}
            for e in result.errors[:MAX_ERRORS_KEPT]
        ],
        warnings=list(result.warnings),
        imported_by=actor,
    )
    session.add(record)
    session.flush()
    added = _copy_rows(session, result.rows, import_id=record.id)
    if progress:
        progress(len(result.rows))
    record.rows_added = added
    record.rows_existing = len(result.rows) - added
    record.finished_at = datetime.now(UTC)
    session.flush()
    return record


_STAGE_COLUMNS = (
    "source, source_id, category, occurred_at, time_precision, x, y, weight, attributes"
)


def _copy_rows(session: Session, rows: Sequence[Any], *, import_id: int) -> int:
    """COPY rows into a temporary table, then insert the new ones; returns how many were new."""
    if not rows:
        return 0
    buf = io.StringIO()
    writer = csv.writer(buf)
    for r in rows:
        writer.writerow(
            (
                r.source,
                r.source_id,
                r.category,
                r.occurred_at.isoformat(),
                r.time_precision,
                repr(float(r.x)),
                repr(float(r.y)),
                repr(float(r.weight)),
                json.dumps(r.attributes, default=str),
            )
        )
    buf.seek(0)
    session.execute(
        text(
            "CREATE TEMP TABLE IF NOT EXISTS _incident_stage (source text, source_id text, "
            "category text, occurred_at timestamptz, time_precision text, x float8, y float8, "
            "weight float8, attributes jsonb) ON COMMIT DROP"
        )
    )
    session.execute(text("TRUNCATE _incident_stage"))
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.copy_expert(f"COPY _incident_stage ({_STAGE_COLUMNS}) FROM STDIN WITH (FORMAT csv)", buf)
    result = session.execute(
        text(
            "INSERT INTO incidents.incidents (source, source_id, category, occurred_at, "
            "time_precision, geom, weight, attributes, import_id) "
            "SELECT DISTINCT ON (source, source_id) source, source_id, category, occurred_at, "
            "time_precision, ST_SetSRID(ST_MakePoint(x, y), 27700), weight, attributes, :imp "
            "FROM _incident_stage ORDER BY source, source_id "
            "ON CONFLICT ON CONSTRAINT uq_incidents_source_source_id DO NOTHING"
        ),
        {"imp": import_id},
    )
    return int(getattr(result, "rowcount", 0))


def already_imported(session: Session, *, source: str, sha256: str) -> bool:
    """True when a file with these bytes was fully imported for ``source`` before."""
    q = (
        select(func.count())
        .select_from(IncidentImport)
        .where(
            IncidentImport.source == source,
            IncidentImport.sha256 == sha256,
            IncidentImport.finished_at.is_not(None),
        )
    )
    return bool(session.scalar(q))


def import_file(
    session: Session,
    path: str | Path,
    *,
    source: str,
    actor: str | None = None,
    progress: Callable[[int], None] | None = None,
    skip_known: bool = False,
    extent: Extent | None = None,
) -> list[IncidentImport]:
    """Parse and store one file (a CSV, or a zip of monthly CSVs); one record per CSV inside.

    With ``skip_known`` a file whose bytes were imported before is not read again (the demo's
    quick re-run); without it the rows are checked one by one and only new ones are added.
    Rows outside ``extent`` (default: the partnership's outline and default margin) are
    rejected rows; rows in its margin are kept with a warning.
    """
    SOURCES.lookup(source)  # UnknownSource, a ValueError naming the choices
    # Hashed after parsing, so the parser refuses an oversized file from its size alone before
    # anything reads it; the demo's quick re-run hashes first, within the same size bound.
    sha = file_sha256(_within_limits(path)) if skip_known else None
    if sha is not None and already_imported(session, source=source, sha256=sha):
        return []
    results = parse_file(path, source=source, extent=extent)
    sha = sha or file_sha256(path)
    return [
        store_result(session, res, source=source, sha256=sha, actor=actor, progress=progress)
        for res in results
        if not getattr(res, "skipped", False)
    ]


def _within_limits(path: str | Path) -> Path:
    """``path``, or FileRejected when it is bigger than any file the parser would read."""
    p = Path(path)
    size = p.stat().st_size
    cap = max(DEFAULT_LIMITS.max_file_bytes, DEFAULT_LIMITS.max_zip_total_bytes)
    if size > cap:
        raise FileRejected(f"{p.name}: {size} bytes is over the {cap} byte limit")
    return p


@dataclass(frozen=True)
class IncidentPoints:
    """Incidents as arrays: EPSG:27700 metres, UTC times, weights, categories, precision."""

    x: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    t: npt.NDArray[np.datetime64]
    weight: npt.NDArray[np.float64]
    category: npt.NDArray[np.str_]
    month_only: npt.NDArray[np.bool_]
    ids: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.x.size)

    def t_days(self) -> npt.NDArray[np.float64]:
        """Times as float days since 1970-01-01 UTC."""
        return self.t.astype("datetime64[s]").astype(np.int64) / 86400.0


def load_points(
    session: Session,
    *,
    sources: Sequence[str] | None = None,
    categories: Sequence[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    bbox_m: tuple[float, float, float, float] | None = None,
    within_wkt_27700: str | None = None,
) -> IncidentPoints:
    """Incidents matching the filters (``start`` inclusive, ``end`` exclusive), as arrays."""
    q = select(
        Incident.id,
        func.ST_X(Incident.geom),
        func.ST_Y(Incident.geom),
        Incident.occurred_at,
        Incident.weight,
        Incident.category,
        Incident.time_precision,
    )
    if sources:
        q = q.where(Incident.source.in_(list(sources)))
    if categories:
        q = q.where(Incident.category.in_(list(categories)))
    if start is not None:
        q = q.where(Incident.occurred_at >= start)
    if end is not None:
        q = q.where(Incident.occurred_at < end)
    if bbox_m is not None:
        q = q.where(Incident.geom.intersects(func.ST_MakeEnvelope(*bbox_m, 27700)))
    if within_wkt_27700 is not None:
        q = q.where(Incident.geom.intersects(func.ST_GeomFromText(within_wkt_27700, 27700)))
    rows = session.execute(q.order_by(Incident.occurred_at, Incident.id)).all()
    return _to_points(rows)


def _to_points(rows: Iterable[Any]) -> IncidentPoints:
    rows = list(rows)
    n = len(rows)
    return IncidentPoints(
        ids=np.fromiter((r[0] for r in rows), np.int64, n),
        x=np.fromiter((r[1] for r in rows), np.float64, n),
        y=np.fromiter((r[2] for r in rows), np.float64, n),
        t=np.array(
            [r[3].astimezone(UTC).replace(tzinfo=None) for r in rows], dtype="datetime64[s]"
        ).reshape(n),
        weight=np.fromiter((r[4] for r in rows), np.float64, n),
        category=np.array([r[5] for r in rows], dtype=str).reshape(n),
        month_only=np.fromiter((r[6] == "month" for r in rows), np.bool_, n),
    )


def category_counts(session: Session) -> list[tuple[str, str, int]]:
    """(source, category, count) for every category present."""
    rows = session.execute(
        text(
            "SELECT source, category, count(*) FROM incidents.incidents "
            "GROUP BY source, category ORDER BY source, count(*) DESC"
        )
    )
    return [(r[0], r[1], int(r[2])) for r in rows]
