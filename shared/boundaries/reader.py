"""Read a boundary file (GeoJSON, GeoPackage, shapefile) into areas in EPSG:27700 (pure).

Every feature becomes an :class:`Area` or a :class:`RowProblem` naming its feature number (1 is
the first feature of the file) and the reason; good features are kept, nothing is silently
dropped. Code and name columns are given or guessed from the column names the published
files use (``WD13CD``/``WD13NM``, ``LSOA11CD``/``LSOA11NM``, ``LSOA21CD`` ..., ``code``/``name``).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from shared.boundaries.layers import CODE_MAX, NAME_MAX, Layer
from shared.errors import InvalidInput
from shared.geometry import BNG, GB_BOUNDS_LONLAT, GB_BOUNDS_M, WGS84

# Column-name prefixes the ONS files use, by layer (WD13CD, LSOA21NM ...), tried first.
_PREFIXES: dict[Layer, tuple[str, ...]] = {
    Layer.WARD: ("WD",),
    Layer.LSOA: ("LSOA",),
    Layer.OUTLINE: ("LAD", "CTYUA", "UTLA", "CTY"),
}


class BoundaryFileError(InvalidInput):
    """The file cannot be read as boundaries at all (no layer replaced)."""


@dataclass(frozen=True)
class Area:
    """One area read from a file: its code, name and (multi)polygon in EPSG:27700."""

    row: int
    code: str
    name: str
    geom: MultiPolygon


@dataclass(frozen=True)
class RowProblem:
    """A feature that was not kept (or was kept with a repair): its number and the reason."""

    row: int
    reason: str


@dataclass
class ReadResult:
    """What a file gave: the areas, the refused features, repairs, and the columns used."""

    areas: list[Area]
    problems: list[RowProblem]
    warnings: list[RowProblem] = field(default_factory=list)
    code_field: str = ""
    name_field: str = ""
    features: int = 0
    crs: str = ""


def guess_fields(
    columns: Sequence[str], layer: Layer, *, code_field: str | None, name_field: str | None
) -> tuple[str, str]:
    """The (code, name) columns: those given, else the file's ``..CD``/``..NM`` or code/name."""
    cols = [c for c in columns if c != "geometry"]
    code = code_field or _guess(cols, layer, suffix="CD", plain="code")
    name = name_field or _guess(cols, layer, suffix="NM", plain="name")
    missing = [f for f in (code, name) if f and f not in cols]
    if missing:
        raise BoundaryFileError(
            f"the file has no column {missing[0]!r}; its columns are {', '.join(cols) or 'none'}"
        )
    if not code:
        raise BoundaryFileError(
            "cannot tell which column holds the area codes; pass --code-field "
            f"(columns: {', '.join(cols) or 'none'})"
        )
    return code, name or code


def _guess(cols: Sequence[str], layer: Layer, *, suffix: str, plain: str) -> str:
    # WD13CD but not WD13CDO (the old ONS code) and not WD13NMW (the Welsh name).
    pattern = re.compile(rf"^[A-Za-z]+\d*{suffix}$", re.IGNORECASE)
    coded = [c for c in cols if pattern.match(c)]
    for prefix in _PREFIXES[layer]:
        hits = [c for c in coded if c.upper().startswith(prefix)]
        if hits:
            return sorted(hits)[-1]  # LSOA21CD over LSOA11CD when a file carries both
    if len(coded) == 1:
        return coded[0]
    for c in cols:
        if c.lower() in (plain, f"{layer.value}_{plain}", f"{plain}s"):
            return c
    return ""


def read_boundaries(
    path: Path,
    *,
    layer: Layer,
    code_field: str | None = None,
    name_field: str | None = None,
) -> ReadResult:
    """Read ``path`` with geopandas, reprojected to EPSG:27700; bad features are reported."""
    frame = _read_frame(path)
    crs = _source_crs(frame)
    code_col, name_col = guess_fields(
        list(frame.columns), layer, code_field=code_field, name_field=name_field
    )
    result = ReadResult(
        [], [], code_field=code_col, name_field=name_col, features=len(frame), crs=crs
    )
    geoms = frame.geometry.set_crs(crs, allow_override=True)
    projected = _to_bng(geoms)
    seen: dict[str, int] = {}
    for i, (geom, code_raw, name_raw) in enumerate(
        zip(projected, frame[code_col], frame[name_col], strict=True), start=1
    ):
        area = _area(i, geom, code_raw, name_raw, seen, result)
        if area is not None:
            seen[area.code] = i
            result.areas.append(area)
    return result


def _read_frame(path: Path) -> Any:
    import geopandas as gpd

    if not path.exists():
        raise BoundaryFileError(f"no such file: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # unreadable geometries: reported
            # on_invalid="ignore": an unreadable geometry becomes None and is reported by row,
            # instead of one broken ring failing the whole file.
            return gpd.read_file(path, on_invalid="ignore")
    except Exception as exc:  # GDAL raises its own DataSourceError, ValueError, ...
        raise BoundaryFileError(
            f"cannot read {path.name} as a boundary file", internal=repr(exc)
        ) from exc


def _source_crs(frame: Any) -> str:
    """The file's CRS; a file without one is taken as lon/lat or BNG from its coordinates."""
    if frame.crs is not None:
        return str(frame.crs.to_string())
    bounds = frame.geometry.dropna().total_bounds if len(frame) else [math.nan] * 4
    if all(math.isfinite(b) for b in bounds):
        minx, miny, maxx, maxy = (float(b) for b in bounds)
        if _within((minx, miny, maxx, maxy), GB_BOUNDS_LONLAT):
            return f"EPSG:{WGS84}"
        if _within((minx, miny, maxx, maxy), GB_BOUNDS_M):
            return f"EPSG:{BNG}"
    raise BoundaryFileError(
        "the file names no coordinate reference system and its coordinates are neither "
        "longitude/latitude nor British National Grid metres; add a .prj or convert it"
    )


def _within(b: tuple[float, float, float, float], box: tuple[float, float, float, float]) -> bool:
    return box[0] <= b[0] and box[1] <= b[1] and b[2] <= box[2] and b[3] <= box[3]


def _to_bng(geoms: Any) -> list[BaseGeometry | None]:
    try:
        out = geoms.to_crs(BNG)
    except Exception as exc:  # pyproj's CRSError and friends
        raise BoundaryFileError(
            "cannot reproject the file to British National Grid", internal=repr(exc)
        ) from exc
    return [None if g is None else g for g in out]


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def _area(
    row: int,
    geom: BaseGeometry | None,
    code_raw: Any,
    name_raw: Any,
    seen: dict[str, int],
    result: ReadResult,
) -> Area | None:
    code, name = _text(code_raw), _text(name_raw)
    reason = _refusal(geom, code, name, seen)
    if reason:
        result.problems.append(RowProblem(row, reason))
        return None
    assert geom is not None
    polygons, repaired = _polygonal(geom)
    if polygons is None:
        result.problems.append(RowProblem(row, "its geometry has no area once repaired"))
        return None
    if repaired:
        result.warnings.append(RowProblem(row, f"{code}: invalid polygon repaired"))
    if not name:
        result.warnings.append(RowProblem(row, f"{code}: no name; the code is shown instead"))
    return Area(row, code, name or code, polygons)


def _refusal(geom: BaseGeometry | None, code: str, name: str, seen: dict[str, int]) -> str:
    if geom is None or geom.is_empty:
        return "no geometry (missing or unreadable)"
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        return f"a {geom.geom_type}, not a polygon"
    if not all(math.isfinite(v) for v in geom.bounds):
        return "coordinates that cannot be projected to British National Grid"
    if not code:
        return "no code"
    if len(code) > CODE_MAX:
        return f"a code longer than {CODE_MAX} characters"
    if len(name) > NAME_MAX:
        return f"a name longer than {NAME_MAX} characters"
    if code in seen:
        return f"code {code} repeats feature {seen[code]}"
    return ""


def _polygonal(geom: BaseGeometry) -> tuple[MultiPolygon | None, bool]:
    """``geom`` as a valid MultiPolygon (repaired if it had to be), or None if nothing is left."""
    repaired = not geom.is_valid
    if repaired:
        geom = shapely.make_valid(geom)
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon | MultiPolygon)]
    polys: list[Polygon] = []
    for p in parts:
        polys.extend(p.geoms if isinstance(p, MultiPolygon) else [p])
    polys = [p for p in polys if not p.is_empty and p.area > 0]
    return (MultiPolygon(polys), repaired) if polys else (None, repaired)
