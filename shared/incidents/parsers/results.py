"""What an incident parser gives back, and the limits it works within.

Placed rows (``IncidentRow``), rejected rows with their line (``RowError``), one file's result
(``ParseResult``), the size limits of an import (``Limits``, ``FileRejected``) and the widths of
the ``incidents.incidents`` columns a value must fit. Pure data: standard library only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

MIB = 1 << 20
# How much of a rejected row's text is kept with its error.
RAW_MAX = 300
# Widths of incidents.incidents columns: a longer value is a bad row, not a failed import.
SOURCE_ID_MAX = 300
CATEGORY_MAX = 120
# Plausible incident years; also keeps every UTC conversion inside datetime's range.
YEARS = (1900, 2200)

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


def size_text(n: float) -> str:
    """A byte count for a message: bytes, KiB, MiB or GiB."""
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")
