"""Camera register import: a council CSV (camera_id,location,area_name,area_code,lon,lat) into
the register; asset tag = camera_id, so a re-import updates or leaves rows instead of duplicating.

Nothing is changed silently: each row it cannot take is reported with its line and reason (an
over-long value also with its field and limit) and the good rows are kept; columns it does not
import and text a spreadsheet would run as a formula are file warnings. Records are split by
``shared.incidents.records``, so a broken quote costs its own row and names its own line.
Known cameras follow the register's rules: a decommissioned camera's record is read-only here
as it is for ``PATCH /cameras/{id}``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic
from sqlalchemy import String, select
from sqlalchemy.orm import Session

from services.assets import audit
from services.assets import lifecycle as lc
from services.assets.cameras.schemas import CameraCreate
from services.assets.cameras.service import (
    DEFAULT_REVIEW_DAYS,
    commit_change,
    create_camera,
    place,
)
from services.assets.enums import Deployment, Technology
from services.assets.models import Camera, CameraImport
from shared.errors import InvalidInput
from shared.geometry import lonlat_in_gb
from shared.incidents.records import HeaderError, read_header, reading_notes, split_records
from shared.textfiles import (
    FORMULA_PREFIXES,
    describe_non_text,
    line_list,
    physical_lines,
    utf8_or_cp1252,
)

REQUIRED = ("camera_id", "location", "lon", "lat")
# File column -> camera attribute, for the columns the import reads.
COLUMNS = {
    "camera_id": "asset_tag",
    "location": "name",
    "area_name": "ward",
    "area_code": "ward_code",
    "lon": "lon",
    "lat": "lat",
}
TEXT_COLUMNS = ("camera_id", "location", "area_name", "area_code")
# A plain decimal number: digits, one optional point, an optional exponent. Python's float()
# also takes "0.5_3" (as 0.53), "1_000", "nan" and "inf"; a register never means those.
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _column_limit(attr: str) -> int:
    """The width of the cameras column behind ``attr`` (characters)."""
    col_type = Camera.__table__.c[attr].type
    assert isinstance(col_type, String) and col_type.length is not None
    return int(col_type.length)


LIMITS = {col: _column_limit(attr) for col, attr in COLUMNS.items() if col in TEXT_COLUMNS}


@dataclass
class ImportResult:
    """What an import did; ``errors`` lists each row it could not take (line + reason)."""

    record: CameraImport
    errors: list[dict[str, Any]]
    warnings: list[str]


class RowRefused(ValueError):
    """A row the import does not take; ``problems`` are its error entries (reason, field...)."""

    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(p["reason"] for p in problems))
        self.problems = problems


def _refuse(reason: str) -> RowRefused:
    return RowRefused([{"reason": reason}])


@dataclass
class _Run:
    """The state of one import: counts, errors, notes, and the register as it stands."""

    existing: dict[str, Camera]
    actor: str
    review_days: int
    errors: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(
        default_factory=lambda: {"read": 0, "added": 0, "updated": 0, "unchanged": 0}
    )
    seen: set[str] = field(default_factory=set)
    rejected: set[int] = field(default_factory=set)
    formula: list[int] = field(default_factory=list)
    blank: list[int] = field(default_factory=list)
    multiline: list[int] = field(default_factory=list)

    def reject(self, *, line: int, problems: list[dict[str, Any]]) -> None:
        """Report a row's problems, each as ``{"line", "reason", ...}``."""
        self.rejected.add(line)
        self.errors.extend({"line": line, **p} for p in problems)

    def notes(self) -> list[str]:
        """File warnings gathered while reading the rows."""
        return reading_notes(blank=self.blank, multiline=self.multiline, formula=self.formula)


def _decode(*, data: bytes) -> tuple[str, list[str]]:
    """The file as text, and a warning when it was not UTF-8."""
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError as exc:
        what = describe_non_text(data)
        if what is not None:
            raise InvalidInput(
                f"The file is not UTF-8 text: it looks like {what}; save it as CSV UTF-8"
            ) from exc
    # Excel's "CSV (Comma delimited)" on Windows: cp1252 for the lines that need it.
    textual, cp1252_lines = utf8_or_cp1252(data)
    return textual, [f"not UTF-8, decoded as cp1252: lines {line_list(cp1252_lines)}"]


def _check_header(*, header: Sequence[str]) -> list[str]:
    """Refuse a header lacking a required column or naming one twice; warn of extra columns."""
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise InvalidInput(
            f"The CSV lacks columns: {', '.join(sorted(missing))}",
            errors=[{"field": m, "message": "missing column"} for m in sorted(missing)],
        )
    twice = sorted({c for c in header if c in COLUMNS and header.count(c) > 1})
    if twice:
        raise InvalidInput(
            f"The CSV names a column more than once: {', '.join(twice)}",
            errors=[{"field": c, "message": "repeated column"} for c in twice],
        )
    extra = [c or f"(unnamed column {i + 1})" for i, c in enumerate(header) if c not in COLUMNS]
    return [f"extra columns ignored: {', '.join(extra)}"] if extra else []


def import_cameras_csv(
    session: Session,
    *,
    content: bytes | str,
    file_name: str,
    actor: str,
    review_interval_days: int = DEFAULT_REVIEW_DAYS,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import a register CSV (camera_id,location,area_name,area_code,lon,lat); asset tag =
    camera_id, so a re-import updates or leaves rows instead of duplicating them."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    textual, warnings = _decode(data=data)
    # CR, LF and CRLF line ends (spreadsheets' "CSV (Macintosh)" writes bare CRs).
    lines = physical_lines(textual)
    try:
        header = read_header(lines)
    except HeaderError as exc:
        raise InvalidInput(f"The CSV header cannot be read: {exc}") from exc
    warnings += _check_header(header=header)
    run = _Run(
        existing={c.asset_tag: c for c in session.scalars(select(Camera))},
        actor=actor,
        review_days=review_interval_days,
    )
    for rec in split_records(lines, width=len(header), multiline=True):
        _take_record(
            session,
            run=run,
            header=header,
            rec_fields=rec.fields,
            start=rec.start,
            error=rec.error,
            multiline=rec.multiline,
        )
        if progress is not None:
            progress(rec.end - rec.start + 1)
    warnings += run.notes()
    rec_row = CameraImport(
        file_name=file_name[:400],
        sha256=hashlib.sha256(data).hexdigest(),
        rows_read=run.counts["read"],
        rows_added=run.counts["added"],
        rows_updated=run.counts["updated"],
        rows_unchanged=run.counts["unchanged"],
        rows_rejected=len(run.rejected),
        errors=run.errors,
        warnings=warnings,
        imported_by=actor,
    )
    session.add(rec_row)
    commit_change(session)
    return ImportResult(rec_row, run.errors, warnings)


def _take_record(
    session: Session,
    *,
    run: _Run,
    header: Sequence[str],
    rec_fields: list[str],
    start: int,
    error: str | None,
    multiline: bool,
) -> None:
    """Count one record and import it, or report why not."""
    if error is None and all(not f.strip() for f in rec_fields):
        run.blank.append(start)
        return
    run.counts["read"] += 1
    try:
        if error is not None:
            raise _refuse(error)
        if len(rec_fields) != len(header):
            raise _refuse(f"expected {len(header)} fields, found {len(rec_fields)}")
        row = {
            name: value for name, value in zip(header, rec_fields, strict=True) if name in COLUMNS
        }
        if multiline:
            run.multiline.append(start)
        if _formula_like(row):
            run.formula.append(start)
        outcome = _import_row(session, row=row, run=run)
    except RowRefused as exc:
        run.reject(line=start, problems=exc.problems)
        return
    run.counts[outcome] += 1


def _formula_like(row: dict[str, str]) -> bool:
    """Text a spreadsheet would run as a formula (a plain number such as -5 is just a number)."""
    for col in TEXT_COLUMNS:
        value = row.get(col, "").strip()
        if value[:1] in FORMULA_PREFIXES and value and not _PLAIN_NUMBER.fullmatch(value):
            return True
    return False


def _plain_float(raw: str) -> float | None:
    """``raw`` as a float when it is a plain, finite decimal number, else None."""
    if not _PLAIN_NUMBER.fullmatch(raw):
        return None
    value = float(raw)
    return value if math.isfinite(value) else None


def _row_position(*, row: dict[str, str]) -> tuple[float, float]:
    raw_lon, raw_lat = row.get("lon", "").strip(), row.get("lat", "").strip()
    if not raw_lon or not raw_lat:
        raise _refuse("no coordinates (lon/lat empty)")
    lon, lat = _plain_float(raw_lon), _plain_float(raw_lat)
    if lon is None or lat is None:
        raise _refuse(
            f"coordinates are not numbers: lon={raw_lon!r} lat={raw_lat!r} (write plain finite "
            "decimals such as -2.2813: no underscores, thousands separators or units)"
        )
    if not lonlat_in_gb(lon, lat):
        raise _refuse(f"position {lon}, {lat} is outside Great Britain (swapped lon/lat?)")
    return lon, lat


def _text_values(*, row: dict[str, str]) -> dict[str, str]:
    """The row's text columns stripped; every over-long one is a problem (field and limit)."""
    values = {col: row.get(col, "").strip() for col in TEXT_COLUMNS}
    too_long = [
        {
            "reason": f"{col} is {len(v)} characters long; the limit is {LIMITS[col]}",
            "field": col,
            "limit": LIMITS[col],
        }
        for col, v in values.items()
        if len(v) > LIMITS[col]
    ]
    if too_long:
        raise RowRefused(too_long)
    return values


def _validated(*, values: dict[str, str], lon: float, lat: float) -> CameraCreate:
    """The row as the API would take it (same checks for new and known cameras)."""
    try:
        return CameraCreate(
            asset_tag=values["camera_id"],
            name=values["location"],
            lon=lon,
            lat=lat,
            ward=values["area_name"] or None,
            ward_code=values["area_code"] or None,
            technology=Technology.DIGITAL.value,
            deployment=Deployment.FIXED.value,
            reason="register import",
        )
    except pydantic.ValidationError as exc:
        raise RowRefused([_problem(e) for e in exc.errors()]) from None


def _problem(error: Any) -> dict[str, Any]:
    """A pydantic error as a row problem, named by the file's column."""
    attr = str(error["loc"][0]) if error["loc"] else ""
    column = next((c for c, a in COLUMNS.items() if a == attr), None)
    if column is None:
        return {"reason": f"{attr or 'row'}: {error['msg']}"}
    return {"reason": f"{column}: {error['msg']}", "field": column}


def _import_row(session: Session, *, row: dict[str, str], run: _Run) -> str:
    if any("\x00" in v for v in row.values()):
        # PostgreSQL cannot store NUL; refused here the row is a bad row, not a failed flush
        # that would roll back the good rows too (it was a 500).
        raise _refuse("contains a NUL (U+0000) character")
    values = _text_values(row=row)
    tag = values["camera_id"]
    if not tag:
        raise _refuse("no camera_id")
    if tag in run.seen:
        raise _refuse(f"camera_id {tag} appears earlier in this file")
    run.seen.add(tag)
    if not values["location"]:
        raise _refuse("no location (camera name)")
    lon, lat = _row_position(row=row)
    data = _validated(values=values, lon=lon, lat=lat)
    camera = run.existing.get(tag)
    if camera is None:
        run.existing[tag] = create_camera(
            session, data=data, actor=run.actor, review_interval_days=run.review_days, commit=False
        )
        return "added"
    return _update_known(session, camera=camera, data=data, actor=run.actor)


def _update_known(session: Session, *, camera: Camera, data: CameraCreate, actor: str) -> str:
    """Bring a registered camera in line with its row, under the register's lifecycle rules."""
    before = audit.snapshot(camera)
    wanted = {"name": data.name, "ward": data.ward, "ward_code": data.ward_code}
    moved = (round(data.lon, 6), round(data.lat, 6)) != (before.get("lon"), before.get("lat"))
    changed = moved or any(getattr(camera, k) != v for k, v in wanted.items())
    if not changed:
        return "unchanged"
    if camera.lifecycle in lc.READ_ONLY_LIFECYCLES:
        # Checked before anything is set, so the refused row leaves the record as it was.
        raise _refuse(
            f"camera {camera.asset_tag} (id {camera.id}) is {camera.lifecycle}; its record is "
            "read-only, so this row's changes were not applied"
        )
    for k, v in wanted.items():
        setattr(camera, k, v)
    if moved:
        place(camera, data.lon, data.lat)
    after = audit.snapshot(camera)
    session.flush()
    audit.camera_change(
        session,
        camera,
        action="import_update",
        actor=actor,
        before=before,
        after=after,
        reason="register import",
    )
    return "updated"
