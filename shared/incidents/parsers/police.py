"""data.police.uk street-level crime and ASB: a monthly CSV, or the zip of monthly folders.

Times are months (the files give no days). A crime keeps its Crime ID (a repeat gets an
occurrence suffix); anti-social behaviour has none, so its identity is built from the month,
force, position and type with an occurrence count, and a re-import finds the same rows. In a
zip only the ``*-street.csv`` files are read; outcomes and stop-and-search files are skipped.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.extent import Extent
from shared.incidents.parsers.archives import parse_zip
from shared.incidents.parsers.common import (
    Collector,
    parse_coords,
    parse_csv,
    parse_month,
    place,
    require_columns,
    too_long,
)
from shared.incidents.parsers.results import (
    CATEGORY_MAX,
    DEFAULT_LIMITS,
    SOURCE_ID_MAX,
    IncidentRow,
    Limits,
    ParseResult,
    PathOrFile,
)
from shared.incidents.records import split_records
from shared.incidents.registry import Precision, Reader
from shared.textfiles import formula_like, line_list

POLICE_COLUMNS = (
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
)
POLICE_REQUIRED = ("Crime ID", "Month", "Falls within", "Longitude", "Latitude", "Crime type")
_POLICE_TEXT = ("Location", "LSOA name", "Last outcome category", "Context", "Crime type")
# Room for the ":<n>" occurrence suffix; an ASB identity is month:force:lon:lat:type:n.
_CRIME_ID_MAX = SOURCE_ID_MAX - 10
_FALLS_WITHIN_MAX = SOURCE_ID_MAX - CATEGORY_MAX - 50
_STREET = re.compile(r"(^|/)\d{4}-\d{2}-[^/]*-street\.csv$", re.IGNORECASE)
_OTHER_POLICE = re.compile(r"-(outcomes|stop-and-search)\.csv$", re.IGNORECASE)

_PoliceRecord = tuple[int, dict[str, str], datetime, float, float]


def parse_police_csv(
    path_or_fileobj: PathOrFile,
    *,
    source: str = "police",
    name: str | None = None,
    max_bytes: int | None = None,
    extent: Extent | None = None,
) -> ParseResult:
    """Parse one data.police.uk street-level crime CSV into month-precision incident rows."""
    return parse_csv(
        path_or_fileobj,
        source=source,
        name=name,
        max_bytes=max_bytes,
        extent=extent,
        columns=_columns,
        rows=_rows,
    )


def parse_police_zip(
    path: str | Path, *, limits: Limits | None = None, extent: Extent | None = None
) -> list[ParseResult]:
    """Parse every street-level CSV in a data.police.uk zip; other files come back as skipped."""

    def parse(file: PathOrFile, label: str, max_bytes: int) -> ParseResult:
        return parse_police_csv(file, name=label, max_bytes=max_bytes, extent=extent)

    return parse_zip(Path(path), parse, skip_member, limits or DEFAULT_LIMITS)


def skip_member(member: str) -> str | None:
    """Why a zip member is not read (None for a street-level crime CSV)."""
    if _STREET.search(member):
        return None
    kind = _OTHER_POLICE.search(member)
    return f"{kind.group(1)} file" if kind else "not a street-level crime CSV"


def _columns(header: list[str]) -> list[str]:
    require_columns(header, POLICE_REQUIRED)
    return header


def _rows(col: Collector, header: list[str], warnings: list[str], source: str) -> list[IncidentRow]:
    absent = [c for c in POLICE_COLUMNS if c not in header]
    extra = [c for c in header if c not in POLICE_COLUMNS]
    if absent:
        warnings.append(f"optional columns absent: {', '.join(absent)}")
    if extra:
        warnings.append(f"extra columns ignored: {', '.join(extra)}")
    return _police_rows(col, _police_records(col, header), warnings, source)


def _police_records(col: Collector, header: list[str]) -> list[_PoliceRecord]:
    idx = {c: i for i, c in enumerate(header)}
    width = len(header)
    kept: list[_PoliceRecord] = []
    for record in split_records(col.lines, width=width):
        if not col.readable(record, width):
            continue
        start, end, fields = record.start, record.end, record.fields
        rec = {c: fields[idx[c]].strip() if c in idx else "" for c in POLICE_COLUMNS}
        month = parse_month(rec["Month"])
        if month is None:
            col.error(start, end, f"bad month {rec['Month']!r} (expected YYYY-MM)")
            continue
        if not rec["Crime type"]:
            col.error(start, end, "no crime type")
            continue
        long_value = too_long(
            (
                ("Crime ID", rec["Crime ID"], _CRIME_ID_MAX),
                ("Falls within", rec["Falls within"], _FALLS_WITHIN_MAX),
                ("Crime type", rec["Crime type"], CATEGORY_MAX),
            )
        )
        if long_value:
            col.error(start, end, long_value)
            continue
        coords = parse_coords(rec["Longitude"], rec["Latitude"])
        if isinstance(coords, str):
            col.error(start, end, coords)
            continue
        if formula_like([rec[c] for c in _POLICE_TEXT]):
            col.formula.append(start)
        kept.append((start, rec, month, coords[0], coords[1]))
    return kept


def _police_rows(
    col: Collector, kept: list[_PoliceRecord], warnings: list[str], source: str
) -> list[IncidentRow]:
    inside, x, y = place(col, [k[0] for k in kept], [k[3] for k in kept], [k[4] for k in kept])
    kept = [k for k, ok in zip(kept, inside, strict=True) if ok]
    seen: Counter[str] = Counter()
    repeated_ids: list[int] = []
    rows = []
    for i, (line, rec, month, lon, lat) in enumerate(kept):
        crime_id = rec["Crime ID"]
        if crime_id:
            key = crime_id
        else:
            key = f"{rec['Month']}:{rec['Falls within']}:{lon:.6f}:{lat:.6f}:{rec['Crime type']}"
        seen[key] += 1
        n = seen[key]
        if crime_id:
            source_id = crime_id if n == 1 else f"{crime_id}:{n}"
            if n > 1:
                repeated_ids.append(line)
        else:
            source_id = f"{key}:{n}"
        rows.append(
            IncidentRow(
                source, source_id, rec["Crime type"], month, Precision.MONTH.value,
                lon, lat, float(x[i]), float(y[i]), 1.0, _attributes(rec, line),
            )
        )  # fmt: skip
    if repeated_ids:
        warnings.append(
            "Crime ID repeated in the file, kept with an occurrence suffix: "
            f"lines {line_list(repeated_ids)}"
        )
    return rows


def _attributes(rec: dict[str, str], line: int) -> dict[str, Any]:
    return {
        "crime_id": rec["Crime ID"] or None,
        "location": rec["Location"] or None,
        "lsoa_code": rec["LSOA code"] or None,
        "lsoa_name": rec["LSOA name"] or None,
        "outcome": rec["Last outcome category"] or None,
        "context": rec["Context"] or None,
        "reported_by": rec["Reported by"] or None,
        "falls_within": rec["Falls within"] or None,
        "line": line,
    }


READER = Reader(parse_police_csv, skip_member)
