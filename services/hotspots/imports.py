"""``POST /incidents/imports``: analysts upload an incident file (CSV or zip of CSVs).

The same parse and store code as ``csp incidents import``: bad rows are reported with their line
and reason, good rows are kept, rows already stored are counted, not duplicated, and the whole
upload is one transaction, so a refused or failed file leaves nothing behind.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from services.hotspots.deps import Analyst
from shared.db import SessionDep
from shared.errors import InvalidInput, PayloadTooLarge
from shared.extent import Extent, partnership_extent
from shared.incidents.models import IncidentImport
from shared.incidents.parsers import parse_file
from shared.incidents.parsers.results import FileRejected, ParseResult
from shared.incidents.registry import SOURCES
from shared.incidents.store import file_sha256, store_result
from shared.web.deps import AppSettings

router = APIRouter(tags=["incidents"])
ERRORS_SHOWN = 1000
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
NAME_MAX = 100
# A part's header line holds the file name: python-multipart's default (4 KiB) refused a long
# one as "Invalid multipart data"; this leaves room for names of tens of thousands of
# characters, which are then shortened to NAME_MAX.
PART_HEADER_MAX = 64 * 1024
TEXT_FIELD_MAX = 1024
PARTS_MAX = 8


class RowProblem(BaseModel):
    """A rejected row: its 1-based line (header = 1; 0 = the file as a whole) and why."""

    line: int
    reason: str
    raw: str = ""


class FileReport(BaseModel):
    """One CSV (or zip member) of the upload: counts, rejected rows and notes."""

    import_id: int
    file: str
    rows_read: int
    added: int
    already_there: int
    rejected: int
    errors: list[RowProblem]
    errors_truncated: bool = False
    warnings: list[str] = Field(default_factory=list)


class SkippedFile(BaseModel):
    """A zip member that is not an incident file (outcomes, stop-and-search, not a CSV)."""

    file: str
    reason: str


class IncidentImportReport(BaseModel):
    """What one upload did, file by file."""

    source: str
    file_name: str
    sha256: str
    added: int
    already_there: int
    rejected: int
    files: list[FileReport]
    skipped: list[SkippedFile] = Field(default_factory=list)


def safe_file_name(name: str | None) -> str:
    """The upload's base name with only letters, digits, dot, dash and underscore, shortened to
    ``NAME_MAX`` characters keeping its extension."""
    base = Path((name or "").replace("\\", "/").replace("\x00", "")).name
    cleaned = _SAFE_NAME.sub("_", base).strip("._")
    if len(cleaned) > NAME_MAX:
        stem, dot, ext = cleaned.rpartition(".")
        ext = ext[:10] if dot else ""
        cleaned = (stem if dot else cleaned)[: NAME_MAX - len(ext) - 1].rstrip("._")
        cleaned = f"{cleaned}.{ext}" if ext else cleaned
    return cleaned or "upload.csv"


def _file_report(result: ParseResult, rec: IncidentImport) -> FileReport:
    return FileReport(
        import_id=rec.id,
        file=rec.file_name,
        rows_read=rec.rows_read,
        added=rec.rows_added,
        already_there=rec.rows_existing,
        rejected=rec.rows_rejected,
        errors=[
            RowProblem(line=e.line, reason=e.reason, raw=e.raw)
            for e in result.errors[:ERRORS_SHOWN]
        ],
        errors_truncated=len(result.errors) > ERRORS_SHOWN,
        warnings=result.warnings,
    )


def import_upload(
    session: Session, path: Path, *, source: str, actor: str, extent: Extent | None = None
) -> IncidentImportReport:
    """Parse and store one saved upload, one import record per CSV, and commit (all or nothing)."""
    try:
        results = parse_file(path, source=source, extent=extent)
    except FileRejected as exc:
        raise InvalidInput(f"The file was refused: {exc}") from exc
    sha = file_sha256(path)
    files, skipped = [], []
    for res in results:
        if res.skipped:
            reason = res.warnings[0].removeprefix("skipped: ") if res.warnings else "skipped"
            skipped.append(SkippedFile(file=res.file, reason=reason))
            continue
        rec = store_result(session, res, source=source, sha256=sha, actor=actor)
        files.append(_file_report(res, rec))
    report = IncidentImportReport(
        source=source,
        file_name=path.name,
        sha256=sha,
        added=sum(f.added for f in files),
        already_there=sum(f.already_there for f in files),
        rejected=sum(f.rejected for f in files),
        files=files,
        skipped=skipped,
    )
    session.commit()
    return report


@dataclass
class _Upload:
    """What the multipart body held: the text fields and the saved file (if any)."""

    fields: dict[str, str] = field(default_factory=dict)
    file_name: str | None = None
    path: Path | None = None


def _boundary(content_type: str) -> bytes:
    from python_multipart.multipart import parse_options_header

    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise InvalidInput("Send the file as multipart/form-data (fields: file, source)")
    return params[b"boundary"]


async def read_upload(request: Request, folder: Path, *, max_bytes: int) -> _Upload:
    """Stream a multipart body: the ``file`` part to ``folder``, text fields kept (bounded).

    Long part headers (a file name of thousands of characters) are read, not refused; the file
    name is shortened by ``safe_file_name``. A file over ``max_bytes`` is a 413.
    """
    from python_multipart.multipart import MultipartParser

    out = _Upload()
    state: dict[str, Any] = {"headers": [], "name": b"", "value": b"", "part": None}
    pending: list[bytes] = []
    size = {"file": 0, "parts": 0}

    def on_part_begin() -> None:
        size["parts"] += 1
        if size["parts"] > PARTS_MAX:
            raise InvalidInput(f"The upload has more than {PARTS_MAX} parts")
        state.update(headers=[], part={"data": bytearray(), "file": False})

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["name"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"].append((state["name"].lower(), state["value"]))
        state.update(name=b"", value=b"")

    def on_headers_finished() -> None:
        _start_part(state, out, folder)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        part = state["part"]
        if part["file"]:
            size["file"] += end - start
            if size["file"] > max_bytes:
                raise PayloadTooLarge(f"The file exceeds {max_bytes} bytes")
            pending.append(bytes(data[start:end]))
        else:
            part["data"] += data[start:end]
            if len(part["data"]) > TEXT_FIELD_MAX:
                raise InvalidInput(
                    f"The form field {part['name']!r} is over {TEXT_FIELD_MAX} bytes"
                )

    def on_part_end() -> None:
        part = state["part"]
        if not part["file"] and part["name"]:
            out.fields[part["name"]] = bytes(part["data"]).decode("utf-8", "replace")

    callbacks: Any = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }
    parser = _parser(MultipartParser, _boundary(request.headers.get("content-type", "")), callbacks)
    try:
        with open(folder / "upload.bin", "wb") as sink:
            async for chunk in request.stream():
                parser.write(chunk)
                for piece in pending:
                    await run_in_threadpool(sink.write, piece)
                pending.clear()
            parser.finalize()
    except (InvalidInput, PayloadTooLarge):
        raise
    except Exception as exc:  # noqa: BLE001 - python-multipart's FormParserError and kin
        if "header size" in str(exc):
            raise InvalidInput(
                f"A part header of the upload is over {PART_HEADER_MAX // 1024} KiB: is the file "
                "name that long? Rename the file (100 characters are kept) and upload it again",
                internal=repr(exc),
            ) from exc
        raise InvalidInput(
            f"The upload is not valid multipart/form-data: {exc}", internal=repr(exc)
        ) from exc
    if out.path is not None:
        (folder / "upload.bin").replace(out.path)
    return out


def _parser(cls: Any, boundary: bytes, callbacks: Any) -> Any:
    try:
        return cls(boundary, callbacks, max_header_size=PART_HEADER_MAX)
    except TypeError:  # python-multipart before header limits: nothing to raise
        return cls(boundary, callbacks)


def _start_part(state: dict[str, Any], out: _Upload, folder: Path) -> None:
    """Name the part from its Content-Disposition; the ``file`` part goes to a file."""
    from python_multipart.multipart import parse_options_header

    disposition = dict(state["headers"]).get(b"content-disposition", b"")
    _, options = parse_options_header(disposition)
    name = options.get(b"name", b"").decode("utf-8", "replace")
    part = state["part"]
    part["name"] = name
    if name == "file" and b"filename" in options:
        if out.path is not None:
            raise InvalidInput("Send one file per upload")
        out.file_name = options[b"filename"].decode("utf-8", "replace")
        out.path = folder / safe_file_name(out.file_name)
        part["file"] = True


UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "source"],
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "contentMediaType": "application/octet-stream",
                        "description": "A CSV, or a zip of CSVs (data.police.uk)",
                    },
                    "source": {
                        "type": "string",
                        "enum": list(SOURCES),
                        "description": " | ".join(SOURCES),
                    },
                },
            }
        }
    },
}


@router.post(
    "/incidents/imports",
    response_model=IncidentImportReport,
    summary="Import an incident file (CSV or zip)",
    responses={413: {"description": "Upload over the size limit"}},
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def import_incidents(
    request: Request, session: SessionDep, who: Analyst, settings: AppSettings
) -> IncidentImportReport:
    """Import one file (analyst); the report names every rejected line and why.

    A long file name is shortened (to 100 characters, keeping the extension). Rows outside the
    partnership's outline plus margin are rejected; rows in the margin are kept with a warning.
    """
    with tempfile.TemporaryDirectory(prefix="csp-import-") as tmp:
        up = await read_upload(request, Path(tmp), max_bytes=settings.max_upload_bytes)
        source = up.fields.get("source")
        if source is None or up.path is None:
            missing = [f for f, v in (("file", up.path), ("source", source)) if v is None]
            raise InvalidInput(
                f"Missing form field(s): {', '.join(missing)}",
                errors=[{"field": f, "message": "required"} for f in missing],
            )
        if source not in SOURCES:
            raise InvalidInput(f"Unknown source {source!r}; choose one of {', '.join(SOURCES)}")
        if up.path.suffix.lower() not in (".csv", ".zip"):
            raise InvalidInput(f"Unsupported file {up.path.name!r}: expected a .csv or .zip file")
        extent = partnership_extent(settings.extent_margin_m)
        report = await run_in_threadpool(
            import_upload, session, up.path, source=source, actor=who.actor, extent=extent
        )
    return report
