"""Camera register import: a council CSV (camera_id,location,area_name,area_code,lon,lat) into
the register; asset tag = camera_id, so a re-import updates or leaves rows instead of duplicating.

Each row it cannot take is reported with its line and reason; the good rows are kept.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pydantic
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.assets import audit
from services.assets.models import Camera, CameraImport
from services.assets.schemas import CameraCreate
from services.assets.service import DEFAULT_REVIEW_DAYS, _commit, _place, create_camera
from shared.errors import InvalidInput
from shared.geometry import lonlat_in_gb
from shared.incidents.parsers import describe_non_text, line_list, utf8_or_cp1252


@dataclass
class ImportResult:
    """What an import did; ``errors`` lists each row it could not place (line + reason)."""

    record: CameraImport
    errors: list[dict[str, Any]]
    warnings: list[str]


def _row_position(*, row: dict[str, str]) -> tuple[float, float]:
    raw_lon, raw_lat = (row.get("lon") or "").strip(), (row.get("lat") or "").strip()
    if not raw_lon or not raw_lat:
        raise ValueError("no coordinates (lon/lat empty)")
    try:
        lon, lat = float(raw_lon), float(raw_lat)
    except ValueError as exc:
        raise ValueError(f"coordinates are not numbers: lon={raw_lon!r} lat={raw_lat!r}") from exc
    if not lonlat_in_gb(lon, lat):
        raise ValueError(f"position {lon}, {lat} is outside Great Britain (swapped lon/lat?)")
    return lon, lat


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
    warnings: list[str] = []
    try:
        textual = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        what = describe_non_text(data)
        if what is not None:
            raise InvalidInput(f"The file is not UTF-8 text: it looks like {what}; save it "
                               "as CSV UTF-8") from exc
        # Excel's "CSV (Comma delimited)" on Windows: cp1252 for the lines that need it.
        textual, cp1252_lines = utf8_or_cp1252(data)
        warnings.append(f"not UTF-8, decoded as cp1252: lines {line_list(cp1252_lines)}")
    # newline="": the csv module sees CR, LF and CRLF line ends (spreadsheets' "CSV
    # (Macintosh)" writes bare CRs) and quoted fields may hold any of them.
    reader = csv.DictReader(io.StringIO(textual, newline=""))
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise InvalidInput(f"The CSV header cannot be read: {exc}") from exc
    missing = {"camera_id", "location", "lon", "lat"} - set(header or [])
    if missing:
        raise InvalidInput(f"The CSV lacks columns: {', '.join(sorted(missing))}",
                           errors=[{"field": m, "message": "missing column"}
                                   for m in sorted(missing)])
    errors: list[dict[str, Any]] = []
    counts = {"read": 0, "added": 0, "updated": 0, "unchanged": 0}
    seen: set[str] = set()
    existing = {c.asset_tag: c for c in session.scalars(select(Camera))}
    try:
        for row in reader:
            counts["read"] += 1
            line = reader.line_num
            try:
                outcome = _import_row(session, row=row, seen=seen, existing=existing, actor=actor,
                                      review_days=review_interval_days)
                counts[outcome] += 1
            except ValueError as exc:
                errors.append({"line": line, "reason": str(exc)})
            if progress is not None:
                progress(1)
    except csv.Error as exc:
        # The csv module cannot go on after this (e.g. an unterminated quote to the end).
        counts["read"] += 1
        errors.append({"line": reader.line_num, "reason": f"unreadable CSV: {exc}"})
    rec = CameraImport(
        file_name=file_name[:400], sha256=hashlib.sha256(data).hexdigest(),
        rows_read=counts["read"], rows_added=counts["added"], rows_updated=counts["updated"],
        rows_unchanged=counts["unchanged"], rows_rejected=len(errors), errors=errors,
        warnings=warnings, imported_by=actor,
    )
    session.add(rec)
    _commit(session)
    return ImportResult(rec, errors, warnings)


_IMPORT_COLUMN = {"asset_tag": "camera_id", "name": "location", "ward": "area_name",
                  "ward_code": "area_code", "lon": "lon", "lat": "lat"}


def _import_row(
    session: Session, *, row: dict[str, str], seen: set[str], existing: dict[str, Camera],
    actor: str, review_days: int,
) -> str:
    if any("\x00" in str(v) for v in row.values()):
        # PostgreSQL cannot store NUL; refused here the row is a bad row, not a failed flush
        # that would roll back the good rows too (it was a 500).
        raise ValueError("contains a NUL (U+0000) character")
    tag = (row.get("camera_id") or "").strip()
    if not tag:
        raise ValueError("no camera_id")
    if tag in seen:
        raise ValueError(f"camera_id {tag} appears earlier in this file")
    seen.add(tag)
    name = (row.get("location") or "").strip()
    if not name:
        raise ValueError("no location (camera name)")
    lon, lat = _row_position(row=row)
    ward = (row.get("area_name") or "").strip() or None
    ward_code = (row.get("area_code") or "").strip()[:12] or None
    camera = existing.get(tag)
    # Validated the same way for new and known cameras (lengths, ranges): a bad value is a
    # reported row either way, never a failed flush.
    try:
        data = CameraCreate(asset_tag=tag, name=name[:200], lon=lon, lat=lat, ward=ward,
                            ward_code=ward_code, technology="digital", deployment="fixed",
                            reason="register import")
    except pydantic.ValidationError as exc:
        raise ValueError("; ".join(
            f"{_IMPORT_COLUMN.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}"
            for e in exc.errors()
        )) from None
    if camera is None:
        existing[tag] = create_camera(session, data=data, actor=actor,
                                      review_interval_days=review_days, commit=False)
        return "added"
    before = audit.snapshot(camera)
    camera.name, camera.ward, camera.ward_code = data.name, data.ward, data.ward_code
    if (round(lon, 6), round(lat, 6)) != (before.get("lon"), before.get("lat")):
        _place(camera, lon, lat)
    after = audit.snapshot(camera)
    if after == before:
        return "unchanged"
    session.flush()
    audit.record(session, camera_id=camera.id, entity="camera", entity_id=camera.id,
                 action="import_update", actor=actor, before=before, after=after,
                 reason="register import")
    return "updated"
