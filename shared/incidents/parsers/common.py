"""What every incident CSV parser shares: the steps from a file to its checked rows.

``parse_csv`` reads one file within its size limit, names a file that is not text, decodes it,
checks the header with the format's own column check and builds the rows with the format's own
row builder; a ``Collector`` gathers the rejected rows (line and reason) and the file's notes.
Also the field checks (coordinates, months, lengths) and ``place``, which projects rows to
EPSG:27700 and rejects those outside the partnership's extent. Pure: numpy and pyproj only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt

from shared.extent import Extent, partnership_extent
from shared.geometry import to_bng
from shared.incidents.parsers.results import (
    DEFAULT_LIMITS,
    RAW_MAX,
    YEARS,
    FileRejected,
    IncidentRow,
    ParseResult,
    PathOrFile,
    RowError,
    size_text,
)
from shared.incidents.records import HeaderError, Record, read_header, reading_notes
from shared.textfiles import decode_lines, line_list, not_text

FloatArray = npt.NDArray[np.float64]
ColumnCheck = Callable[[list[str]], list[str]]
RowBuilder = Callable[["Collector", list[str], list[str], str], list[IncidentRow]]


class FileProblem(Exception):
    """The whole file cannot be parsed (missing columns, empty file)."""

    def __init__(self, reason: str, line: int = 1, raw: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line
        self.raw = raw


def parse_csv(
    path_or_fileobj: PathOrFile,
    *,
    source: str,
    name: str | None,
    max_bytes: int | None,
    extent: Extent | None,
    columns: ColumnCheck,
    rows: RowBuilder,
) -> ParseResult:
    """Parse one CSV: ``columns(header)`` gives the columns or raises FileProblem, then
    ``rows(collector, columns, warnings, source)`` builds the kept rows, reporting the others."""
    data, default_name = read_bytes(path_or_fileobj, max_bytes)
    name = name or default_name
    what = None if isinstance(data, str) else not_text(data)
    if what is not None:
        err = RowError(name, 1, f"not CSV text: {what}", repr(data[:16]))
        return ParseResult(rows=[], errors=[err], file=name, total_lines=0)
    lines, warnings = decode_lines(data)
    try:
        if not lines:
            raise FileProblem("empty file")
        try:
            header = columns(read_header(lines))
        except HeaderError as exc:
            raise FileProblem(str(exc)) from exc
    except FileProblem as problem:
        raw = problem.raw or (lines[0].rstrip("\r\n")[:RAW_MAX] if lines else "")
        err = RowError(name, problem.line, problem.reason, raw)
        return ParseResult([], [err], name, len(lines), warnings)
    col = Collector(name, lines, extent or partnership_extent())
    kept = rows(col, header, warnings, source)
    warnings.extend(col.notes())
    return ParseResult(kept, col.sorted_errors(), name, len(lines), warnings)


def read_bytes(
    path_or_fileobj: PathOrFile, max_bytes: int | None = None
) -> tuple[bytes | str, str]:
    """The file's content and name; FileRejected when it is over ``max_bytes``."""
    limit = DEFAULT_LIMITS.max_file_bytes if max_bytes is None else max_bytes
    if isinstance(path_or_fileobj, str | Path):
        p = Path(path_or_fileobj)
        size = p.stat().st_size
        if size > limit:
            raise FileRejected(f"{p.name}: {size_text(size)} is over the {size_text(limit)} limit")
        return p.read_bytes(), p.name
    name = str(getattr(path_or_fileobj, "name", "<stream>"))
    data = path_or_fileobj.read(limit + 1)
    if len(data) > limit:
        raise FileRejected(f"{name}: over the {size_text(limit)} limit")
    return data, name


class Collector:
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
        raw = "".join(self.lines[start - 1 : last]).rstrip("\r\n")[:RAW_MAX]
        self.errors.append(RowError(self.name, start, reason, raw))

    def sorted_errors(self) -> list[RowError]:
        """Errors in line order (checks made after reading, like the extent, come last)."""
        return sorted(self.errors, key=lambda e: e.line)

    def notes(self) -> list[str]:
        """The file's warnings: margin rows kept, blank lines, multi-line records, formulas."""
        out = []
        if self.margin:
            km = self.extent.margin_m / 1000.0
            lines_ = sorted(self.margin)
            out.append(
                f"{len(lines_)} row(s) outside {self.extent.name} but within {km:g} km of it, "
                f"kept: lines {line_list(lines_)}"
            )
        out += reading_notes(blank=self.blank, multiline=self.multiline, formula=self.formula)
        return out

    def readable(self, rec: Record, width: int) -> bool:
        """True for a record to use; an unreadable or misshapen one is reported, a blank noted."""
        if rec.error is not None:
            self.error(rec.start, rec.end, rec.error)
            return False
        if all(not f.strip() for f in rec.fields):
            self.blank.append(rec.start)
            return False
        if len(rec.fields) != width:
            self.error(rec.start, rec.end, f"expected {width} fields, found {len(rec.fields)}")
            return False
        if rec.multiline:
            self.multiline.append(rec.start)
        self.spans[rec.start] = rec.end
        return True


def missing_columns(header: list[str], required: Sequence[str]) -> list[str]:
    """The ``required`` columns that the header lacks, in ``required``'s order."""
    have = set(header)
    return [c for c in required if c not in have]


def require_columns(header: list[str], required: Sequence[str]) -> None:
    """FileProblem naming the ``required`` columns that the header lacks."""
    missing = missing_columns(header, required)
    if missing:
        raise FileProblem(f"missing columns: {', '.join(missing)}")


def too_long(checks: Sequence[tuple[str, str, int]]) -> str | None:
    """The first (column, value, limit) whose value is longer than the database keeps."""
    for column, value, limit in checks:
        if len(value) > limit:
            return f"{column} longer than {limit} characters ({len(value)})"
    return None


_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def parse_month(value: str) -> datetime | None:
    """``YYYY-MM`` as the first of that month, 00:00 UTC; None when it is not one."""
    m = _MONTH.match(value.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or not YEARS[0] <= int(m.group(1)) <= YEARS[1]:
        return None
    return datetime(int(m.group(1)), int(m.group(2)), 1, tzinfo=UTC)


def parse_coords(lon_s: str, lat_s: str) -> tuple[float, float] | str:
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


def place(
    col: Collector, lines_: Sequence[int], lon: Sequence[float], lat: Sequence[float]
) -> tuple[npt.NDArray[np.bool_], FloatArray, FloatArray]:
    """Project WGS84 rows to EPSG:27700; (inside the extent, x and y of the rows inside)."""
    lon_a, lat_a = np.array(lon, dtype=float), np.array(lat, dtype=float)
    x, y = to_bng(lon_a, lat_a) if len(lon_a) else (np.empty(0), np.empty(0))
    inside = within_extent(col, lines_, lon_a, lat_a, x, y)
    return inside, x[inside], y[inside]


def within_extent(
    col: Collector,
    lines_: Sequence[int],
    lon: FloatArray,
    lat: FloatArray,
    x: FloatArray,
    y: FloatArray,
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
