"""DfT STATS19 road collisions: exact-time ``road_collision`` rows weighted by KSI chance.

Old column names (``accident_index`` ...) are read as the new ones when those are absent.
A row is placed by its easting/northing when it has them, else by longitude/latitude. Its
weight is the chance that it killed or seriously injured someone (``ksi_weight``); its codes
are kept as numbers with their labels from the DfT guide (``stats19_codes``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from shared.extent import Extent
from shared.geometry import to_bng, to_wgs84
from shared.incidents.parsers.archives import any_csv
from shared.incidents.parsers.common import (
    Collector,
    FileProblem,
    missing_columns,
    parse_coords,
    parse_csv,
    too_long,
    within_extent,
)
from shared.incidents.parsers.results import (
    SOURCE_ID_MAX,
    YEARS,
    IncidentRow,
    ParseResult,
    PathOrFile,
)
from shared.incidents.records import split_records
from shared.incidents.registry import Precision, Reader
from shared.incidents.stats19_codes import COLLISION_CODES, LEGACY_NAMES, SEVERITY_NAMES
from shared.textfiles import formula_like

LONDON = ZoneInfo("Europe/London")
STATS19_REQUIRED = ("collision_index", "collision_severity", "date")
_STATS19_TEXT = ("collision_index", "collision_ref_no", "local_authority_ons_district")
# Identifiers and ONS codes stay text (leading zeros, letters in older indexes).
_STATS19_KEEP_TEXT = frozenset(
    {
        "collision_index",
        "collision_ref_no",
        "lsoa_of_collision_location",
        "lsoa_of_accident_location",
        "local_authority_ons_district",
        "local_authority_highway",
        "local_authority_highway_current",
    }
)
# Position fields are the row's lon/lat/x/y already.
_STATS19_SKIP = frozenset(
    {"date", "time", "location_easting_osgr", "location_northing_osgr", "longitude", "latitude"}
)
_DATE_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


@dataclass(frozen=True)
class _Stats19Record:
    line: int
    rec: dict[str, str]
    when: datetime
    time_known: bool
    weight: float
    lonlat: tuple[float, float] | None
    xy: tuple[float, float] | None


def parse_stats19_csv(
    path_or_fileobj: PathOrFile,
    *,
    source: str = "stats19",
    name: str | None = None,
    max_bytes: int | None = None,
    extent: Extent | None = None,
) -> ParseResult:
    """Parse a DfT STATS19 collision CSV into exact-time road_collision rows with KSI weights."""
    return parse_csv(
        path_or_fileobj,
        source=source,
        name=name,
        max_bytes=max_bytes,
        extent=extent,
        columns=_columns,
        rows=_rows,
    )


def ksi_weight(severity: int, adjusted_serious: float | None) -> float:
    """KSI weight: 1 for fatal, else the adjusted probability of serious, else 1/0 by severity."""
    if severity == 1:
        return 1.0
    if adjusted_serious is not None:
        return adjusted_serious
    return 1.0 if severity == 2 else 0.0


def _columns(header: list[str]) -> list[str]:
    names = [h.strip().lower() for h in header]
    have = set(names)
    # An old name is mapped only when the new one is absent, so no column is read twice.
    names = [
        LEGACY_NAMES[n] if n in LEGACY_NAMES and LEGACY_NAMES[n] not in have else n for n in names
    ]
    missing = missing_columns(names, STATS19_REQUIRED)
    has_en = {"location_easting_osgr", "location_northing_osgr"} <= set(names)
    has_ll = {"longitude", "latitude"} <= set(names)
    if not (has_en or has_ll):
        missing.append("location_easting_osgr/location_northing_osgr or longitude/latitude")
    if missing:
        raise FileProblem(f"missing columns: {', '.join(missing)}")
    return names


def _rows(col: Collector, header: list[str], warnings: list[str], source: str) -> list[IncidentRow]:
    return _stats19_rows(col, _stats19_records(col, header), source)


def _missing(value: str) -> bool:
    v = value.strip()
    return v == "" or v.upper() in ("NULL", "NA", "N/A") or v == "-1"


def _code(value: str) -> int | float | str | None:
    """STATS19 value with -1/NULL as None and numbers as numbers."""
    if _missing(value):
        return None
    v = value.strip()
    try:
        return int(v)
    except ValueError:
        try:
            f = float(v)
        except ValueError:
            return v
        return f if math.isfinite(f) else None


def _stats19_time(date_s: str, time_s: str) -> tuple[datetime, bool] | str:
    """Local Europe/London date and time to UTC; (utc, time_known) or a reason."""
    d = date_s.strip()
    m = _DATE_DMY.match(d)
    if m:
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    elif m := _DATE_ISO.match(d):
        year, month, day = int(m.group(1)), int(m.group(2)), int(m.group(3))
    else:
        return f"bad date {date_s!r} (expected DD/MM/YYYY)"
    if not YEARS[0] <= year <= YEARS[1]:
        return f"date year {year} outside {YEARS[0]}..{YEARS[1]}: {date_s!r}"
    hour = minute = 0
    known = not _missing(time_s)
    if known:
        t = _TIME.match(time_s.strip())
        if not t or int(t.group(1)) > 23 or int(t.group(2)) > 59:
            return f"bad time {time_s!r} (expected HH:MM)"
        hour, minute = int(t.group(1)), int(t.group(2))
    try:
        local = datetime(year, month, day, hour, minute, tzinfo=LONDON)
    except ValueError:
        return f"bad date {date_s!r} (expected DD/MM/YYYY)"
    return local.astimezone(UTC), known


def _fraction(value: str) -> float | None | str:
    """Adjusted-severity probability: None when missing, a reason when invalid."""
    if _missing(value):
        return None
    try:
        f = float(value)
    except ValueError:
        return f"adjusted severity not numeric: {value!r}"
    if not (math.isfinite(f) and 0.0 <= f <= 1.0):
        return f"adjusted severity outside 0..1: {value!r}"
    return f


def _stats19_place(rec: dict[str, str]) -> tuple[float, float, bool] | str:
    """(a, b, is_bng): easting/northing when present, else lon/lat; or a reason."""
    e, n = rec.get("location_easting_osgr", ""), rec.get("location_northing_osgr", "")
    if not _missing(e) and not _missing(n):
        try:
            x, y = float(e), float(n)
        except ValueError:
            return f"easting/northing not numeric: {e!r}, {n!r}"
        if not (math.isfinite(x) and math.isfinite(y)):
            return f"easting/northing not finite: {e!r}, {n!r}"
        return x, y, True
    coords = parse_coords(rec.get("longitude", ""), rec.get("latitude", ""))
    if isinstance(coords, str):
        return coords
    return coords[0], coords[1], False


def _stats19_records(col: Collector, header: list[str]) -> list[_Stats19Record]:
    width = len(header)
    seen: dict[str, int] = {}
    kept: list[_Stats19Record] = []
    for record in split_records(col.lines, width=width):
        if not col.readable(record, width):
            continue
        start, end = record.start, record.end
        rec = dict(zip(header, (f.strip() for f in record.fields), strict=True))
        reason = _stats19_reason(rec, seen)
        if reason is None:
            when = _stats19_time(rec["date"], rec.get("time", ""))
            place = _stats19_place(rec)
            adjusted = _fraction(rec.get("collision_adjusted_serious", ""))
            if isinstance(when, str) or isinstance(place, str) or isinstance(adjusted, str):
                reason = next(r for r in (when, place, adjusted) if isinstance(r, str))
        if reason is not None:
            col.error(start, end, reason)
            continue
        assert not isinstance(when, str) and not isinstance(place, str)
        assert not isinstance(adjusted, str)
        seen[rec["collision_index"]] = start
        if formula_like([rec.get(c, "") for c in _STATS19_TEXT]):
            col.formula.append(start)
        weight = ksi_weight(int(rec["collision_severity"]), adjusted)
        ll = parse_coords(rec.get("longitude", ""), rec.get("latitude", ""))
        lonlat = None if isinstance(ll, str) else ll
        xy = (place[0], place[1]) if place[2] else None
        kept.append(_Stats19Record(start, rec, when[0], when[1], weight, lonlat, xy))
    return kept


def _stats19_reason(rec: dict[str, str], seen: dict[str, int]) -> str | None:
    index = rec["collision_index"]
    if _missing(index):
        return "no collision_index"
    if len(index) > SOURCE_ID_MAX:
        return too_long((("collision_index", index, SOURCE_ID_MAX),))
    if index in seen:
        return f"duplicate collision_index {index} (first on line {seen[index]})"
    sev = rec["collision_severity"]
    if sev not in ("1", "2", "3"):
        return f"bad collision_severity {sev!r} (expected 1, 2 or 3)"
    return None


def _stats19_rows(col: Collector, kept: list[_Stats19Record], source: str) -> list[IncidentRow]:
    # Vectorised projection: lon/lat -> BNG for rows without easting/northing, and the reverse.
    nan = (math.nan, math.nan)
    x, y = np.array([k.xy or nan for k in kept], dtype=float).reshape(-1, 2).T.copy()
    lon, lat = np.array([k.lonlat or nan for k in kept], dtype=float).reshape(-1, 2).T.copy()
    need_xy = np.isnan(x)
    if need_xy.any():
        x[need_xy], y[need_xy] = to_bng(lon[need_xy], lat[need_xy])
    need_ll = np.isnan(lon)
    if need_ll.any():
        lon[need_ll], lat[need_ll] = to_wgs84(x[need_ll], y[need_ll])

    def given_xy(k: int) -> str | None:
        xy = kept[k].xy
        return None if xy is None else f"easting {xy[0]:.0f}, northing {xy[1]:.0f}"

    inside = within_extent(col, [k.line for k in kept], lon, lat, x, y, given_xy)
    kept = [k for k, ok in zip(kept, inside, strict=True) if ok]
    lon, lat, x, y = lon[inside], lat[inside], x[inside], y[inside]
    rows = []
    for i, k in enumerate(kept):
        rows.append(
            IncidentRow(
                source, k.rec["collision_index"], "road_collision", k.when, Precision.EXACT.value,
                float(lon[i]), float(lat[i]), float(x[i]), float(y[i]), k.weight,
                _stats19_attributes(k.rec, k.line, k.time_known),
            )
        )  # fmt: skip
    return rows


def _stats19_attributes(rec: dict[str, str], line: int, time_known: bool) -> dict[str, Any]:
    sev = int(rec["collision_severity"])
    attrs: dict[str, Any] = {"severity": SEVERITY_NAMES[sev], "time_known": time_known}
    labels: dict[str, str] = {}
    for key, value in rec.items():
        if key in _STATS19_SKIP:
            continue
        code = None if _missing(value) else value if key in _STATS19_KEEP_TEXT else _code(value)
        attrs[key] = code
        table = COLLISION_CODES.get(key)
        if table is not None and isinstance(code, int) and code in table:
            labels[key] = table[code]
    attrs["date"], attrs["time"] = rec["date"], rec.get("time") or None
    attrs["labels"] = labels
    attrs["line"] = line
    return attrs


READER = Reader(parse_stats19_csv, any_csv)
