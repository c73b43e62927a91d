"""Generic incident CSVs (water, fire and other sources): ``id,timestamp,longitude,latitude,
category[,weight]``, with any extra columns kept as attributes.

Timestamps are ISO 8601 (a naive time is Europe/London; ``YYYY-MM`` is a month, a date alone
has no known time); the weight defaults to 1. Ids are unique within a file.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from shared.extent import Extent
from shared.incidents.parsers.archives import any_csv
from shared.incidents.parsers.common import (
    Collector,
    FileProblem,
    parse_coords,
    parse_csv,
    parse_month,
    place,
    require_columns,
    too_long,
)
from shared.incidents.parsers.results import (
    CATEGORY_MAX,
    SOURCE_ID_MAX,
    YEARS,
    IncidentRow,
    ParseResult,
    PathOrFile,
)
from shared.incidents.records import split_records
from shared.incidents.registry import SOURCE_NAME, SOURCES, Precision, Reader
from shared.textfiles import formula_like

LONDON = ZoneInfo("Europe/London")
GENERIC_REQUIRED = ("id", "timestamp", "longitude", "latitude", "category")
_MONTH_ONLY = re.compile(r"^\d{4}-\d{2}$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_GenericRecord = tuple[dict[str, str], datetime, str, bool, float, float, float, int]


def parse_generic_csv(
    path_or_fileobj: PathOrFile,
    *,
    source: str = "generic",
    name: str | None = None,
    max_bytes: int | None = None,
    extent: Extent | None = None,
) -> ParseResult:
    """Parse an ``id,timestamp,longitude,latitude,category[,weight]`` CSV (extra columns kept).

    ``source`` names the rows' source; ValueError for a name that is not one, or for a
    registered source whose files have another layout (police, stats19).
    """
    own = SOURCES.get(source)
    if not SOURCE_NAME.match(source) or (own is not None and own.file_format != "generic"):
        raise ValueError(f"bad source for a generic file: {source!r}")
    return parse_csv(
        path_or_fileobj,
        source=source,
        name=name,
        max_bytes=max_bytes,
        extent=extent,
        columns=_columns,
        rows=_rows,
    )


def parse_timestamp(value: str) -> tuple[datetime, str, bool] | str:
    """ISO 8601 to (UTC datetime, precision, time_known); naive times are Europe/London."""
    v = value.strip()
    if _MONTH_ONLY.match(v):
        month = parse_month(v)
        return (month, Precision.MONTH.value, False) if month else f"bad timestamp {value!r}"
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        return f"bad timestamp {value!r} (expected ISO 8601)"
    if not YEARS[0] <= dt.year <= YEARS[1]:
        return f"timestamp year {dt.year} outside {YEARS[0]}..{YEARS[1]}: {value!r}"
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=LONDON)
    return dt.astimezone(UTC), Precision.EXACT.value, not _DATE_ONLY.match(v)


def _weight(value: str) -> float | str:
    v = value.strip()
    if not v:
        return 1.0
    try:
        w = float(v)
    except ValueError:
        return f"weight not numeric: {value!r}"
    if not math.isfinite(w) or w < 0:
        return f"weight must be a finite number >= 0: {value!r}"
    return w


def _columns(header: list[str]) -> list[str]:
    names = [h.lower() for h in header]
    require_columns(names, GENERIC_REQUIRED)
    dupes = sorted({h for h in names if names.count(h) > 1})
    if dupes:
        raise FileProblem(f"repeated columns: {', '.join(dupes)}")
    return names


def _rows(col: Collector, header: list[str], warnings: list[str], source: str) -> list[IncidentRow]:
    kept = _generic_records(col, header)
    inside, x, y = place(col, [k[7] for k in kept], [k[4] for k in kept], [k[5] for k in kept])
    kept = [k for k, ok in zip(kept, inside, strict=True) if ok]
    rows = []
    for i, (rec, when_utc, precision, known, lon, lat, weight, line) in enumerate(kept):
        extras = {k: v for k, v in rec.items() if k not in GENERIC_REQUIRED and k != "weight"}
        attributes: dict[str, Any] = {**extras, "time_known": known, "line": line}
        rows.append(
            IncidentRow(
                source, rec["id"], rec["category"], when_utc, precision,
                lon, lat, float(x[i]), float(y[i]), weight, attributes,
            )
        )  # fmt: skip
    return rows


def _generic_records(col: Collector, header: list[str]) -> list[_GenericRecord]:
    width = len(header)
    seen: dict[str, int] = {}
    kept: list[_GenericRecord] = []
    for record in split_records(col.lines, width=width, multiline=True):
        if not col.readable(record, width):
            continue
        start, end = record.start, record.end
        rec = dict(zip(header, (f.strip() for f in record.fields), strict=True))
        ident = rec["id"]
        when = parse_timestamp(rec["timestamp"])
        coords = parse_coords(rec["longitude"], rec["latitude"])
        weight = _weight(rec.get("weight", ""))
        if not ident:
            reason: str | None = "no id"
        elif ident in seen:
            reason = f"duplicate id {ident!r} (first on line {seen[ident]})"
        elif not rec["category"]:
            reason = "no category"
        elif long_value := too_long(
            (("id", ident, SOURCE_ID_MAX), ("category", rec["category"], CATEGORY_MAX))
        ):
            reason = long_value
        else:
            reason = next((r for r in (when, coords, weight) if isinstance(r, str)), None)
        if reason is not None:
            col.error(start, end, reason)
            continue
        assert not isinstance(when, str) and not isinstance(coords, str)
        assert not isinstance(weight, str)
        seen[ident] = start
        if formula_like([v for k, v in rec.items() if k not in ("longitude", "latitude")]):
            col.formula.append(start)
        kept.append((rec, when[0], when[1], when[2], coords[0], coords[1], weight, start))
    return kept


READER = Reader(parse_generic_csv, any_csv)
