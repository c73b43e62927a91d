"""``POST /incidents/imports``: analysts upload an incident file (CSV or zip of CSVs).

The same parse and store code as ``csp incidents import``: bad rows are reported with their line
and reason, good rows are kept, rows already stored are counted, not duplicated, and the whole
upload is one transaction, so a refused or failed file leaves nothing behind.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import IO, Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from shared.auth import Principal, require
from shared.db import SessionDep
from shared.errors import InvalidInput, PayloadTooLarge
from shared.incidents.models import IncidentImport
from shared.incidents.parsers import FileRejected, ParseResult, parse_file
from shared.incidents.store import SOURCES, file_sha256, store_result

router = APIRouter(tags=["incidents"])
Importer = Annotated[Principal, Depends(require("analyst"))]
ERRORS_SHOWN = 1000
CHUNK = 1 << 20
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


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
    """The upload's base name with only letters, digits, dot, dash and underscore."""
    base = Path((name or "").replace("\\", "/")).name
    cleaned = _SAFE_NAME.sub("_", base).strip("._")[-100:]
    return cleaned or "upload.csv"


def save_upload(src: IO[bytes], dest: Path, *, max_bytes: int) -> None:
    """Copy an upload to ``dest``, refusing it (413) once it passes ``max_bytes``."""
    written = 0
    with dest.open("wb") as out:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > max_bytes:
                raise PayloadTooLarge(f"The file exceeds {max_bytes} bytes")
            out.write(chunk)


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


def import_upload(session: Session, path: Path, *, source: str, actor: str) -> IncidentImportReport:
    """Parse and store one saved upload; one import record per CSV; no commit here."""
    try:
        results = parse_file(path, source=source)
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
    return IncidentImportReport(
        source=source,
        file_name=path.name,
        sha256=sha,
        added=sum(f.added for f in files),
        already_there=sum(f.already_there for f in files),
        rejected=sum(f.rejected for f in files),
        files=files,
        skipped=skipped,
    )


@router.post(
    "/incidents/imports",
    response_model=IncidentImportReport,
    summary="Import an incident file (CSV or zip)",
    responses={413: {"description": "Upload over the size limit"}},
)
def import_incidents(
    request: Request,
    session: SessionDep,
    who: Importer,
    file: Annotated[UploadFile, File(description="A CSV, or a zip of CSVs (data.police.uk)")],
    source: Annotated[str, Form(description="police | stats19 | water | fire | generic")],
) -> IncidentImportReport:
    """Import one file (analyst); the report names every rejected line and why."""
    if source not in SOURCES:
        raise InvalidInput(f"Unknown source {source!r}; choose one of {', '.join(SOURCES)}")
    name = safe_file_name(file.filename)
    if Path(name).suffix.lower() not in (".csv", ".zip"):
        raise InvalidInput(f"Unsupported file {name!r}: expected a .csv or .zip file")
    with tempfile.TemporaryDirectory(prefix="csp-import-") as tmp:
        path = Path(tmp) / name
        save_upload(file.file, path, max_bytes=request.app.state.settings.max_upload_bytes)
        report = import_upload(session, path, source=source, actor=who.actor)
    session.commit()
    return report
