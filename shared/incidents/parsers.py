"""Pure parsers that turn incident files into validated rows and a list of rejected rows.

Sources: data.police.uk street-level crime (CSV or the zip of monthly folders), DfT STATS19
collision CSVs, and a generic ``id,timestamp,longitude,latitude,category[,weight]`` CSV used for
water, fire and other incidents. No database here: persistence lives elsewhere.
"""

from __future__ import annotations

import io
import math
import re
import struct
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

from shared.extent import Extent, partnership_extent
from shared.geometry import to_bng, to_wgs84
from shared.incidents.records import HeaderError, Record, physical_lines, read_header, split_records
from shared.incidents.stats19_codes import COLLISION_CODES, LEGACY_NAMES, SEVERITY_NAMES

LONDON = ZoneInfo("Europe/London")
RAW_MAX = 300
FORMULA_PREFIXES = ("=", "+", "-", "@")
# Widths of incidents.incidents columns: a longer value is a bad row, not a failed import.
SOURCE_ID_MAX = 300
CATEGORY_MAX = 120
MIB = 1 << 20
# Plausible incident years; also keeps every UTC conversion inside datetime's range.
YEARS = (1900, 2200)

Source = str
PathOrFile = str | Path | IO[bytes] | IO[str]


@dataclass(frozen=True)
class IncidentRow:
    """One placed incident: identity, time, WGS84 and EPSG:27700 position, weight, extras."""

    source: str
    source_id: str
    category: str
    occurred_at: datetime
    time_precision: str
    lon: float
    lat: float
    x: float
    y: float
    weight: float
    attributes: dict[str, Any]


@dataclass(frozen=True)
class Limits:
    """Size limits for one imported file; a file over them is refused before it is parsed.

    ``max_file_bytes`` bounds a plain CSV and each CSV member of a zip (uncompressed);
    ``max_zip_total_bytes`` all the members read from one zip together. A member that would
    expand more than ``max_zip_ratio`` times (and to more than ``ratio_floor_bytes``) is a
    zip bomb: real incident CSVs compress about 5 to 20 times.
    """

    max_file_bytes: int = 256 * MIB
    max_zip_total_bytes: int = 512 * MIB
    max_zip_members: int = 2000
    max_zip_ratio: float = 100.0
    ratio_floor_bytes: int = 1 * MIB


DEFAULT_LIMITS = Limits()


class FileRejected(ValueError):
    """The whole file is refused (too large, a zip bomb, not a readable zip); nothing was read."""


@dataclass(frozen=True)
class RowError:
    """A rejected row: file, 1-based physical line (header = 1; 0 = the file as a whole)."""

    file: str
    line: int
    reason: str
    raw: str


@dataclass
class ParseResult:
    """Rows kept, rows rejected and file-level notes for one parsed file."""

    rows: list[IncidentRow]
    errors: list[RowError]
    file: str
    total_lines: int
    warnings: list[str] = field(default_factory=list)
    skipped: bool = False


class _FileProblem(Exception):
    """The whole file cannot be parsed (missing columns, empty file)."""

    def __init__(self, reason: str, line: int = 1, raw: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.raw = raw


# --------------------------------------------------------------------------------------------
# Reading text and records
# --------------------------------------------------------------------------------------------


def _size(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def _read_bytes(
    path_or_fileobj: PathOrFile, max_bytes: int | None = None
) -> tuple[bytes | str, str]:
    """The file's content and name; FileRejected when it is over ``max_bytes``."""
    limit = DEFAULT_LIMITS.max_file_bytes if max_bytes is None else max_bytes
    if isinstance(path_or_fileobj, str | Path):
        p = Path(path_or_fileobj)
        size = p.stat().st_size
        if size > limit:
            raise FileRejected(f"{p.name}: {_size(size)} is over the {_size(limit)} limit")
        return p.read_bytes(), p.name
    name = str(getattr(path_or_fileobj, "name", "<stream>"))
    data = path_or_fileobj.read(limit + 1)
    if len(data) > limit:
        raise FileRejected(f"{name}: over the {_size(limit)} limit")
    return data, name


_UNICODE_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)
_MAGIC = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 (.xls) or other Office file"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip file; decompress it first"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
)
_CONTROL = bytes(b for b in range(32) if b not in b"\t\n\r\x0c")
SNIFF_BYTES = 65536


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when NUL bytes sit on every other byte, as in ASCII UTF-16."""
    sample = data[: SNIFF_BYTES & ~1]
    half = len(sample) // 2
    if half < 2:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd >= 0.4 * half and even <= 0.05 * half:
        return "utf-16-le"
    if even >= 0.4 * half and odd <= 0.05 * half:
        return "utf-16-be"
    return None


def _unicode_encoding(data: bytes) -> tuple[str, bool] | None:
    """(codec, had a byte order mark) for UTF-16/UTF-32 text, else None."""
    for bom, codec in _UNICODE_BOMS:
        if data.startswith(bom):
            return codec, True
    guess = _utf16_without_bom(data)
    return (guess, False) if guess else None


def _not_text(data: bytes) -> str | None:
    """What a file that is not CSV text looks like (a zip, a workbook, an image), else None."""
    if _unicode_encoding(data):
        return None
    head = data[:SNIFF_BYTES]
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        if b"[Content_Types].xml" in head or b"xl/" in head:
            return "an Excel workbook (.xlsx); save it as CSV UTF-8"
        if b"opendocument.spreadsheet" in head:
            return "an OpenDocument spreadsheet (.ods); save it as CSV UTF-8"
        return "a zip archive; import it under a .zip name"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    control = sum(head.count(b) for b in _CONTROL)
    if head and control > 0.1 * len(head):
        return f"binary data ({100 * control / len(head):.0f}% control bytes at the start)"
    return None


def _not_text_result(name: str, data: bytes | str) -> ParseResult | None:
    """One file-level error when ``data`` is not CSV text (a workbook, an image, binary)."""
    what = None if isinstance(data, str) else _not_text(data)
    if what is None:
        return None
    err = RowError(name, 1, f"not CSV text: {what}", repr(data[:16]))
    return ParseResult(rows=[], errors=[err], file=name, total_lines=0)


def _splitlines(text: str) -> list[str]:
    """Physical lines ended by CR, LF or CRLF only (never U+2028, U+0085 or form feeds)."""
    return physical_lines(text)


def utf8_or_cp1252(data: bytes) -> tuple[str, list[int]]:
    """UTF-8 text (BOM stripped), with each line that is not UTF-8 decoded as cp1252 (what
    Excel's "CSV (Comma delimited)" writes on Windows); also the numbers of those lines."""
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError:
        pass
    parts, bad = [], []
    for i, raw in enumerate(data.splitlines(keepends=True), start=1):
        try:
            parts.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            parts.append(raw.decode("cp1252", errors="replace"))
            bad.append(i)
    return "".join(parts), bad


def describe_non_text(data: bytes) -> str | None:
    """What a file that is not 8-bit CSV text looks like (UTF-16/32, a workbook, an image,
    binary), else None."""
    if unicode := _unicode_encoding(data):
        return f"{unicode[0].upper()} text"
    return _not_text(data)


def _decode(data: bytes | str) -> tuple[list[str], list[str]]:
    """Split into physical lines: UTF-16/32 by BOM or NUL pattern, else UTF-8 (BOM stripped),
    with cp1252 for lines that are not UTF-8."""
    warnings: list[str] = []
    if isinstance(data, str):
        lines = _splitlines(data.removeprefix("\ufeff"))
    elif unicode := _unicode_encoding(data):
        codec, bom = unicode
        raw = data[len(next(b for b, c in _UNICODE_BOMS if c == codec)) :] if bom else data
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError as exc:
            text = raw.decode(codec, errors="replace")
            warnings.append(f"invalid {codec.upper()} bytes replaced (first at byte {exc.start})")
        how = "byte order mark" if bom else "no byte order mark; NUL on every other byte"
        warnings.append(f"decoded as {codec.upper()} ({how})")
        lines = _splitlines(text.removeprefix("\ufeff"))
    else:
        text, bad = utf8_or_cp1252(data)
        lines = _splitlines(text)
        if bad:
            warnings.append(f"not UTF-8, decoded as cp1252: lines {line_list(bad)}")
    nul = [i for i, s in enumerate(lines, start=1) if "\x00" in s]
    if nul:
        lines = [s.replace("\x00", "") for s in lines]
        warnings.append(f"NUL bytes removed: lines {line_list(nul)}")
    return lines, warnings


def line_list(lines: Sequence[int], limit: int = 20) -> str:
    """Line numbers for a message: the first ``limit``, then how many more."""
    shown = ", ".join(str(i) for i in lines[:limit])
    return shown + (f" and {len(lines) - limit} more" if len(lines) > limit else "")


def _raw(lines: Sequence[str], start: int, end: int) -> str:
    return "".join(lines[start - 1 : end]).rstrip("\r\n")[:RAW_MAX]


def _is_blank(fields: list[str]) -> bool:
    return all(not f.strip() for f in fields)


def _header(lines: list[str]) -> list[str]:
    if not lines:
        raise _FileProblem("empty file")
    try:
        return read_header(lines)
    except HeaderError as exc:
        raise _FileProblem(str(exc)) from exc


class _Collector:
    """Accumulate errors and warnings for one file."""

    def __init__(self, name: str, lines: list[str], extent: Extent) -> None:
        self.name = name
        self.lines = lines
        self.extent = extent
        self.errors: list[RowError] = []
        self.blank: list[int] = []
        self.formula: list[int] = []
        self.multiline: list[int] = []
        self.margin: list[int] = []
        self.spans: dict[int, int] = {}

    def error(self, start: int, end: int | None, reason: str) -> None:
        """Report the record on lines start..end (None: the end recorded when it was read)."""
        last = self.spans.get(start, start) if end is None else end
        self.errors.append(RowError(self.name, start, reason, _raw(self.lines, start, last)))

    def sorted_errors(self) -> list[RowError]:
        """Errors in line order (checks made after reading, like the extent, come last)."""
        return sorted(self.errors, key=lambda e: e.line)

    def notes(self) -> list[str]:
        out = []
        if self.margin:
            km = self.extent.margin_m / 1000.0
            lines_ = sorted(self.margin)
            out.append(
                f"{len(lines_)} row(s) outside {self.extent.name} but within {km:g} km of it, "
                f"kept: lines {line_list(lines_)}"
            )
        if self.blank:
            out.append(f"blank lines skipped: {line_list(self.blank)}")
        if self.multiline:
            out.append(f"records with quoted line breaks: lines {line_list(self.multiline)}")
        if self.formula:
            out.append(
                "text starting with = + - @ kept as text (spreadsheet formula risk on export): "
                f"lines {line_list(self.formula)}"
            )
        return out


def _check_width(col: _Collector, rec: Record, width: int) -> bool:
    if rec.error is not None:
        col.error(rec.start, rec.end, rec.error)
        return False
    if _is_blank(rec.fields):
        col.blank.append(rec.start)
        return False
    if len(rec.fields) != width:
        col.error(rec.start, rec.end, f"expected {width} fields, found {len(rec.fields)}")
        return False
    if rec.multiline:
        col.multiline.append(rec.start)
    col.spans[rec.start] = rec.end
    return True


def _parse_coords(lon_s: str, lat_s: str) -> tuple[float, float] | str:
    """Return (lon, lat) or the reason they cannot be used."""
    lon_s, lat_s = lon_s.strip(), lat_s.strip()
    if not lon_s or not lat_s or lon_s.upper() == "NULL" or lat_s.upper() == "NULL":
        return "no coordinates"
    try:
        lon, lat = float(lon_s), float(lat_s)
    except ValueError:
        return f"coordinates not numeric: {lon_s!r}, {lat_s!r}"
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return "coordinates not finite"
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        return f"coordinates out of range: lon {lon}, lat {lat}"
    return lon, lat


def _within_extent(
    col: _Collector,
    lines_: Sequence[int],
    lon: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    given_xy: Callable[[int], str | None] = lambda k: None,
) -> npt.NDArray[np.bool_]:
    """Which rows lie inside the partnership's outline plus margin; the others are reported.

    Rows inside the margin but outside the outline are kept and listed in a warning; a row
    outside whose swapped longitude and latitude would be inside is reported as swapped.
    ``given_xy(k)`` describes row k's position when the file gave it as easting/northing.
    """
    ext = col.extent
    keep = ext.inside_allowed(x, y) if len(lines_) else np.zeros(0, dtype=bool)
    if not keep.all():
        out = np.flatnonzero(~keep)
        sx, sy = to_bng(lat[out], lon[out])
        swapped = ext.inside_allowed(sx, sy)
        km = ext.margin_m / 1000.0
        for j, k in enumerate(out.tolist()):
            where = given_xy(k) or f"lon {lon[k]:.6g}, lat {lat[k]:.6g}"
            if swapped[j] and not given_xy(k):
                reason = f"longitude and latitude swapped: {where}"
            else:
                reason = f"outside {ext.name} and {km:g} km around it: {where}"
            col.error(lines_[k], None, reason)
    margin = keep & ~ext.inside_outline(x, y) if len(lines_) else keep
    col.margin.extend(int(lines_[k]) for k in np.flatnonzero(margin).tolist())
    return keep


def _formula_like(values: Sequence[str]) -> bool:
    return any(v[:1] in FORMULA_PREFIXES and v[:1] != "" for v in values)


def _missing_columns(header: list[str], required: Sequence[str]) -> list[str]:
    have = set(header)
    return [c for c in required if c not in have]


def _file_error(name: str, lines: list[str], problem: _FileProblem) -> ParseResult:
    raw = problem.raw or (lines[0].rstrip("\r\n")[:RAW_MAX] if lines else "")
    err = RowError(name, problem.line, problem.reason, raw)
    return ParseResult(rows=[], errors=[err], file=name, total_lines=len(lines))


def _project(
    lon: list[float], lat: list[float]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    if not lon:
        return np.empty(0), np.empty(0)
    return to_bng(np.asarray(lon), np.asarray(lat))


# --------------------------------------------------------------------------------------------
# Police (data.police.uk street-level crime)
# --------------------------------------------------------------------------------------------

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
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_POLICE_TEXT = ("Location", "LSOA name", "Last outcome category", "Context", "Crime type")


def _month(value: str) -> datetime | None:
    m = _MONTH.match(value.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or not YEARS[0] <= int(m.group(1)) <= YEARS[1]:
        return None
    return datetime(int(m.group(1)), int(m.group(2)), 1, tzinfo=UTC)


def parse_police_csv(
    path_or_fileobj: PathOrFile,
    *,
    name: str | None = None,
    max_bytes: int | None = None,
    extent: Extent | None = None,
) -> ParseResult:
    """Parse one data.police.uk street-level crime CSV into month-precision incident rows."""
    data, default_name = _read_bytes(path_or_fileobj, max_bytes)
    name = name or default_name
    if (not_text := _not_text_result(name, data)) is not None:
        return not_text
    lines, warnings = _decode(data)
    try:
        header = _header(lines)
        missing = _missing_columns(header, POLICE_REQUIRED)
        if missing:
            raise _FileProblem(f"missing columns: {', '.join(missing)}")
    except _FileProblem as problem:
        result = _file_error(name, lines, problem)
        result.warnings = warnings
        return result
    absent = [c for c in POLICE_COLUMNS if c not in header]
    extra = [c for c in header if c not in POLICE_COLUMNS]
    if absent:
        warnings.append(f"optional columns absent: {', '.join(absent)}")
    if extra:
        warnings.append(f"extra columns ignored: {', '.join(extra)}")
    col = _Collector(name, lines, extent or partnership_extent())
    kept = _police_records(col, header)
    rows = _police_rows(col, kept, warnings)
    warnings.extend(col.notes())
    return ParseResult(rows, col.sorted_errors(), name, len(lines), warnings)


_PoliceRecord = tuple[int, dict[str, str], datetime, float, float]


def _police_records(col: _Collector, header: list[str]) -> list[_PoliceRecord]:
    idx = {c: i for i, c in enumerate(header)}
    width = len(header)
    kept: list[_PoliceRecord] = []
    for record in split_records(col.lines, width=width):
        if not _check_width(col, record, width):
            continue
        start, end, fields = record.start, record.end, record.fields
        rec = {c: fields[idx[c]].strip() if c in idx else "" for c in POLICE_COLUMNS}
        month = _month(rec["Month"])
        if month is None:
            col.error(start, end, f"bad month {rec['Month']!r} (expected YYYY-MM)")
            continue
        if not rec["Crime type"]:
            col.error(start, end, "no crime type")
            continue
        too_long = _too_long(
            (
                ("Crime ID", rec["Crime ID"], _CRIME_ID_MAX),
                ("Falls within", rec["Falls within"], _FALLS_WITHIN_MAX),
                ("Crime type", rec["Crime type"], CATEGORY_MAX),
            )
        )
        if too_long:
            col.error(start, end, too_long)
            continue
        coords = _parse_coords(rec["Longitude"], rec["Latitude"])
        if isinstance(coords, str):
            col.error(start, end, coords)
            continue
        if _formula_like([rec[c] for c in _POLICE_TEXT]):
            col.formula.append(start)
        kept.append((start, rec, month, coords[0], coords[1]))
    return kept


# Room for the ":<n>" occurrence suffix; an ASB identity is month:force:lon:lat:type:n.
_CRIME_ID_MAX = SOURCE_ID_MAX - 10
_FALLS_WITHIN_MAX = SOURCE_ID_MAX - CATEGORY_MAX - 50


def _too_long(checks: Sequence[tuple[str, str, int]]) -> str | None:
    """The first (column, value, limit) whose value is longer than the database keeps."""
    for column, value, limit in checks:
        if len(value) > limit:
            return f"{column} longer than {limit} characters ({len(value)})"
    return None


def _police_rows(
    col: _Collector, kept: list[_PoliceRecord], warnings: list[str]
) -> list[IncidentRow]:
    lon_a, lat_a = np.array([k[3] for k in kept]), np.array([k[4] for k in kept])
    x, y = _project(lon_a.tolist(), lat_a.tolist())
    inside = _within_extent(col, [k[0] for k in kept], lon_a, lat_a, x, y)
    kept, x, y = [k for k, ok in zip(kept, inside, strict=True) if ok], x[inside], y[inside]
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
        attributes = {
            "crime_id": crime_id or None,
            "location": rec["Location"] or None,
            "lsoa_code": rec["LSOA code"] or None,
            "lsoa_name": rec["LSOA name"] or None,
            "outcome": rec["Last outcome category"] or None,
            "context": rec["Context"] or None,
            "reported_by": rec["Reported by"] or None,
            "falls_within": rec["Falls within"] or None,
            "line": line,
        }
        rows.append(
            IncidentRow(
                "police", source_id, rec["Crime type"], month, "month",
                lon, lat, float(x[i]), float(y[i]), 1.0, attributes,
            )
        )  # fmt: skip
    if repeated_ids:
        warnings.append(
            "Crime ID repeated in the file, kept with an occurrence suffix: "
            f"lines {line_list(repeated_ids)}"
        )
    return rows


_STREET = re.compile(r"(^|/)\d{4}-\d{2}-[^/]*-street\.csv$", re.IGNORECASE)
_OTHER_POLICE = re.compile(r"-(outcomes|stop-and-search)\.csv$", re.IGNORECASE)


def _police_member(member: str) -> str | None:
    if _STREET.search(member):
        return None
    kind = _OTHER_POLICE.search(member)
    return f"{kind.group(1)} file" if kind else "not a street-level crime CSV"


def parse_police_zip(
    path: str | Path, *, limits: Limits | None = None, extent: Extent | None = None
) -> list[ParseResult]:
    """Parse every street-level CSV in a data.police.uk zip; other files come back as skipped."""
    return _zip_results(
        Path(path),
        partial(parse_police_csv, extent=extent),
        _police_member,
        limits or DEFAULT_LIMITS,
    )


# --------------------------------------------------------------------------------------------
# STATS19 collisions
# --------------------------------------------------------------------------------------------

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


def _canonical(header: list[str]) -> list[str]:
    names = [h.strip().lower() for h in header]
    have = set(names)
    # An old name is mapped only when the new one is absent, so no column is read twice.
    return [
        LEGACY_NAMES[n] if n in LEGACY_NAMES and LEGACY_NAMES[n] not in have else n for n in names
    ]


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


_DATE_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_TIME = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


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


def ksi_weight(severity: int, adjusted_serious: float | None) -> float:
    """KSI weight: 1 for fatal, else the adjusted probability of serious, else 1/0 by severity."""
    if severity == 1:
        return 1.0
    if adjusted_serious is not None:
        return adjusted_serious
    return 1.0 if severity == 2 else 0.0


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
    name: str | None = None,
    max_bytes: int | None = None,
    extent: Extent | None = None,
) -> ParseResult:
    """Parse a DfT STATS19 collision CSV into exact-time road_collision rows with KSI weights."""
    data, default_name = _read_bytes(path_or_fileobj, max_bytes)
    name = name or default_name
    if (not_text := _not_text_result(name, data)) is not None:
        return not_text
    lines, warnings = _decode(data)
    try:
        header = _canonical(_header(lines))
        missing = _missing_columns(header, STATS19_REQUIRED)
        has_en = {"location_easting_osgr", "location_northing_osgr"} <= set(header)
        has_ll = {"longitude", "latitude"} <= set(header)
        if not (has_en or has_ll):
            missing.append("location_easting_osgr/location_northing_osgr or longitude/latitude")
        if missing:
            raise _FileProblem(f"missing columns: {', '.join(missing)}")
    except _FileProblem as problem:
        result = _file_error(name, lines, problem)
        result.warnings = warnings
        return result
    col = _Collector(name, lines, extent or partnership_extent())
    kept = _stats19_records(col, header)
    rows = _stats19_rows(col, kept)
    warnings.extend(col.notes())
    return ParseResult(rows, col.sorted_errors(), name, len(lines), warnings)


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
    coords = _parse_coords(rec.get("longitude", ""), rec.get("latitude", ""))
    if isinstance(coords, str):
        return coords
    return coords[0], coords[1], False


def _stats19_records(col: _Collector, header: list[str]) -> list[_Stats19Record]:
    width = len(header)
    seen: dict[str, int] = {}
    kept: list[_Stats19Record] = []
    for record in split_records(col.lines, width=width):
        if not _check_width(col, record, width):
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
        if _formula_like([rec.get(c, "") for c in _STATS19_TEXT]):
            col.formula.append(start)
        weight = ksi_weight(int(rec["collision_severity"]), adjusted)
        ll = _parse_coords(rec.get("longitude", ""), rec.get("latitude", ""))
        lonlat = None if isinstance(ll, str) else ll
        xy = (place[0], place[1]) if place[2] else None
        kept.append(_Stats19Record(start, rec, when[0], when[1], weight, lonlat, xy))
    return kept


def _stats19_reason(rec: dict[str, str], seen: dict[str, int]) -> str | None:
    index = rec["collision_index"]
    if _missing(index):
        return "no collision_index"
    if len(index) > SOURCE_ID_MAX:
        return _too_long((("collision_index", index, SOURCE_ID_MAX),))
    if index in seen:
        return f"duplicate collision_index {index} (first on line {seen[index]})"
    sev = rec["collision_severity"]
    if sev not in ("1", "2", "3"):
        return f"bad collision_severity {sev!r} (expected 1, 2 or 3)"
    return None


def _stats19_rows(col: _Collector, kept: list[_Stats19Record]) -> list[IncidentRow]:
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

    inside = _within_extent(col, [k.line for k in kept], lon, lat, x, y, given_xy)
    kept = [k for k, ok in zip(kept, inside, strict=True) if ok]
    lon, lat, x, y = lon[inside], lat[inside], x[inside], y[inside]
    rows = []
    for i, k in enumerate(kept):
        rows.append(
            IncidentRow(
                "stats19", k.rec["collision_index"], "road_collision", k.when, "exact",
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


# --------------------------------------------------------------------------------------------
# Generic incidents (water, fire, others)
# --------------------------------------------------------------------------------------------

GENERIC_REQUIRED = ("id", "timestamp", "longitude", "latitude", "category")
_SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_MONTH_ONLY = re.compile(r"^\d{4}-\d{2}$")
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_timestamp(value: str) -> tuple[datetime, str, bool] | str:
    """ISO 8601 to (UTC datetime, precision, time_known); naive times are Europe/London."""
    v = value.strip()
    if _MONTH_ONLY.match(v):
        month = _month(v)
        return (month, "month", False) if month else f"bad timestamp {value!r}"
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        return f"bad timestamp {value!r} (expected ISO 8601)"
    if not YEARS[0] <= dt.year <= YEARS[1]:
        return f"timestamp year {dt.year} outside {YEARS[0]}..{YEARS[1]}: {value!r}"
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=LONDON)
    return dt.astimezone(UTC), "exact", not _DATE_ONLY.match(v)


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


def parse_generic_csv(
    path_or_fileobj: PathOrFile,
    *,
    source: str = "generic",
    name: str | None = None,
    max_bytes: int | None = None,
    extent: Extent | None = None,
) -> ParseResult:
    """Parse an ``id,timestamp,longitude,latitude,category[,weight]`` CSV (extra columns kept)."""
    if not _SOURCE_NAME.match(source) or source in ("police", "stats19"):
        raise ValueError(f"bad source for a generic file: {source!r}")
    data, default_name = _read_bytes(path_or_fileobj, max_bytes)
    name = name or default_name
    if (not_text := _not_text_result(name, data)) is not None:
        return not_text
    lines, warnings = _decode(data)
    try:
        header = [h.lower() for h in _header(lines)]
        missing = _missing_columns(header, GENERIC_REQUIRED)
        if missing:
            raise _FileProblem(f"missing columns: {', '.join(missing)}")
        dupes = sorted({h for h in header if header.count(h) > 1})
        if dupes:
            raise _FileProblem(f"repeated columns: {', '.join(dupes)}")
    except _FileProblem as problem:
        result = _file_error(name, lines, problem)
        result.warnings = warnings
        return result
    col = _Collector(name, lines, extent or partnership_extent())
    rows = _generic_rows(col, header, source)
    warnings.extend(col.notes())
    return ParseResult(rows, col.sorted_errors(), name, len(lines), warnings)


def _generic_rows(col: _Collector, header: list[str], source: str) -> list[IncidentRow]:
    width = len(header)
    seen: dict[str, int] = {}
    kept: list[tuple[dict[str, str], datetime, str, bool, float, float, float, int]] = []
    for record in split_records(col.lines, width=width, multiline=True):
        if not _check_width(col, record, width):
            continue
        start, end = record.start, record.end
        rec = dict(zip(header, (f.strip() for f in record.fields), strict=True))
        ident = rec["id"]
        when = parse_timestamp(rec["timestamp"])
        coords = _parse_coords(rec["longitude"], rec["latitude"])
        weight = _weight(rec.get("weight", ""))
        if not ident:
            reason: str | None = "no id"
        elif ident in seen:
            reason = f"duplicate id {ident!r} (first on line {seen[ident]})"
        elif not rec["category"]:
            reason = "no category"
        elif too_long := _too_long(
            (("id", ident, SOURCE_ID_MAX), ("category", rec["category"], CATEGORY_MAX))
        ):
            reason = too_long
        else:
            reason = next((r for r in (when, coords, weight) if isinstance(r, str)), None)
        if reason is not None:
            col.error(start, end, reason)
            continue
        assert not isinstance(when, str) and not isinstance(coords, str)
        assert not isinstance(weight, str)
        seen[ident] = start
        if _formula_like([v for k, v in rec.items() if k not in ("longitude", "latitude")]):
            col.formula.append(start)
        kept.append((rec, when[0], when[1], when[2], coords[0], coords[1], weight, start))
    lon_a, lat_a = np.array([k[4] for k in kept]), np.array([k[5] for k in kept])
    x, y = _project(lon_a.tolist(), lat_a.tolist())
    inside = _within_extent(col, [k[7] for k in kept], lon_a, lat_a, x, y)
    kept, x, y = [k for k, ok in zip(kept, inside, strict=True) if ok], x[inside], y[inside]
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


# --------------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------------


_ParseCsv = Callable[..., ParseResult]
_ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz")


def _any_csv(member: str) -> str | None:
    return None if member.lower().endswith(".csv") else "not a CSV"


def _member_problem(member: str) -> str | None:
    """Why a zip member is never read: an unsafe name or an archive inside the archive."""
    name = member.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in name.split("/"):
        return "unsafe member name (absolute path or '..'): not read"
    if "\x00" in name:
        return "unsafe member name (NUL character): not read"
    if name.lower().endswith(_ARCHIVE_SUFFIXES):
        return "an archive inside the zip: not opened (extract it and import its files)"
    return None


def _member_error(label: str, reason: str) -> ParseResult:
    return ParseResult([], [RowError(label, 0, reason, "")], label, 0)


def _declared_entries(path: Path) -> int | None:
    """Entry count from the end-of-central-directory record, read before the directory itself."""
    with path.open("rb") as f:
        f.seek(0, 2)
        f.seek(max(0, f.tell() - 65_557))
        tail = f.read()
        i = tail.rfind(b"PK\x05\x06")
        if i < 0 or len(tail) - i < 22:
            return None
        count = int(struct.unpack_from("<H", tail, i + 10)[0])
        if count != 0xFFFF or i < 20 or tail[i - 20 : i - 16] != b"PK\x06\x07":
            return count
        f.seek(int(struct.unpack_from("<Q", tail, i - 12)[0]))
        rec = f.read(56)
        return int(struct.unpack_from("<Q", rec, 32)[0]) if rec[:4] == b"PK\x06\x06" else None


def _open_zip(path: Path, limits: Limits) -> zipfile.ZipFile:
    """Open a zip after checking its entry count; FileRejected when it is not a readable zip."""
    declared = _declared_entries(path)
    if declared is not None and declared > limits.max_zip_members:
        raise FileRejected(
            f"{path.name}: {declared} entries, over the limit of {limits.max_zip_members}"
        )
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise FileRejected(
            f"{path.name}: not a readable zip archive (truncated or damaged: {exc})"
        ) from exc


def _check_sizes(zname: str, infos: Sequence[zipfile.ZipInfo], limits: Limits) -> None:
    """Refuse, from the sizes the zip declares, members that would expand beyond the limits."""
    total = sum(i.file_size for i in infos)
    if total > limits.max_zip_total_bytes:
        raise FileRejected(
            f"{zname}: its CSV files would expand to {_size(total)}, over the "
            f"{_size(limits.max_zip_total_bytes)} limit; refused as a possible zip bomb"
        )
    for i in infos:
        label = f"{zname}:{i.filename}"
        if i.file_size > limits.max_file_bytes:
            raise FileRejected(
                f"{label} would expand to {_size(i.file_size)}, over the "
                f"{_size(limits.max_file_bytes)} limit for one file"
            )
        ratio = i.file_size / max(i.compress_size, 1)
        if i.file_size > limits.ratio_floor_bytes and ratio > limits.max_zip_ratio:
            raise FileRejected(
                f"{label} would expand {ratio:.0f} times (to {_size(i.file_size)}), over the "
                f"limit of {limits.max_zip_ratio:.0f}; refused as a possible zip bomb"
            )


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> bytes | ParseResult:
    """A member's bytes, never more than it declares; a damaged member is its own error."""
    out = bytearray()
    try:
        with zf.open(info) as f:
            while chunk := f.read(MIB):
                out += chunk
                if len(out) > info.file_size:
                    raise FileRejected(f"{label} expands beyond its declared size")
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
        return _member_error(label, f"cannot read this member of the zip: {exc}")
    return bytes(out)


def _zip_results(
    path: Path, parse: _ParseCsv, skip_reason: Callable[[str], str | None], limits: Limits
) -> list[ParseResult]:
    """Parse the CSV members of a zip by name order; members that are not read are reported."""
    with _open_zip(path, limits) as zf:
        infos = sorted((i for i in zf.infolist() if not i.is_dir()), key=lambda i: i.filename)
        if len(infos) > limits.max_zip_members:
            raise FileRejected(
                f"{path.name}: {len(infos)} entries, over the limit of {limits.max_zip_members}"
            )
        plan = [(info, _unread_result(path.name, info.filename, skip_reason)) for info in infos]
        _check_sizes(path.name, [i for i, done in plan if done is None], limits)
        results = []
        for info, done in plan:
            if done is None:
                label = f"{path.name}:{info.filename}"
                data = _read_member(zf, info, label)
                if isinstance(data, ParseResult):
                    done = data
                else:
                    done = parse(io.BytesIO(data), name=label, max_bytes=limits.max_file_bytes)
            results.append(done)
    return results


def _unread_result(
    zname: str, member: str, skip_reason: Callable[[str], str | None]
) -> ParseResult | None:
    """The result for a member that is not read (an error or a skip note), None to read it."""
    label = f"{zname}:{member}"
    problem = _member_problem(member)
    if problem:
        return _member_error(label, problem)
    skip = skip_reason(member)
    if skip:
        return ParseResult([], [], label, 0, [f"skipped: {skip}"], skipped=True)
    return None


def parse_file(
    path: str | Path,
    *,
    source: str,
    limits: Limits | None = None,
    extent: Extent | None = None,
) -> list[ParseResult]:
    """Parse a CSV or zip of CSVs for ``source`` (police, stats19, or a generic source name).

    Rows outside ``extent`` (default: the bundled partnership outline with its default margin)
    are reported; rows in its margin are kept with a warning. Raises FileRejected, before
    parsing anything, for a file over ``limits`` (default ``DEFAULT_LIMITS``), a zip bomb or an
    unreadable zip.
    """
    p = Path(path)
    lim = limits or DEFAULT_LIMITS
    suffix = p.suffix.lower()
    if suffix not in (".csv", ".zip"):
        raise ValueError(f"unsupported file type {p.suffix!r}: expected .csv or .zip")
    if source == "police":
        if suffix == ".zip":
            return parse_police_zip(p, limits=lim, extent=extent)
        return [parse_police_csv(p, max_bytes=lim.max_file_bytes, extent=extent)]
    if source == "stats19":
        if suffix == ".zip":
            return _zip_results(p, partial(parse_stats19_csv, extent=extent), _any_csv, lim)
        return [parse_stats19_csv(p, max_bytes=lim.max_file_bytes, extent=extent)]
    if not _SOURCE_NAME.match(source):
        raise ValueError(f"bad source {source!r}")
    generic = partial(parse_generic_csv, source=source, extent=extent)
    if suffix == ".zip":
        return _zip_results(p, generic, _any_csv, lim)
    return [generic(p, max_bytes=lim.max_file_bytes)]
