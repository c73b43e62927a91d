"""Zip archives of incident CSVs: every member parsed by name order, within the size limits.

A zip is checked before anything is expanded: its entry count (from the end-of-central-directory
record), each member's declared size and compression ratio, and their total, so a zip bomb is
refused as a whole (``FileRejected``). A member with an unsafe name or an archive inside the
archive is an error of its own; a member the format does not read comes back as skipped; a
damaged member is its own error and the others are still read. Pure: standard library only.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

from shared.incidents.parsers.results import (
    MIB,
    FileRejected,
    Limits,
    ParseResult,
    PathOrFile,
    RowError,
    size_text,
)

ARCHIVE_SUFFIXES = (".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz")


def any_csv(member: str) -> str | None:
    """Why a member is skipped when every CSV is read: None for a CSV, else 'not a CSV'."""
    return None if member.lower().endswith(".csv") else "not a CSV"


def parse_zip(
    path: Path,
    parse: Callable[[PathOrFile, str, int], ParseResult],
    skip_reason: Callable[[str], str | None],
    limits: Limits,
) -> list[ParseResult]:
    """Parse the members of a zip by name order with ``parse(file, label, max_bytes)``.

    Members that are not read (``skip_reason``, unsafe names, nested archives, damage) are
    reported in their own result; FileRejected when the zip as a whole is over ``limits``.
    """
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
                    done = parse(io.BytesIO(data), label, limits.max_file_bytes)
            results.append(done)
    return results


def _member_problem(member: str) -> str | None:
    """Why a zip member is never read: an unsafe name or an archive inside the archive."""
    name = member.replace("\\", "/")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in name.split("/"):
        return "unsafe member name (absolute path or '..'): not read"
    if "\x00" in name:
        return "unsafe member name (NUL character): not read"
    if name.lower().endswith(ARCHIVE_SUFFIXES):
        return "an archive inside the zip: not opened (extract it and import its files)"
    return None


def _member_error(label: str, reason: str) -> ParseResult:
    return ParseResult([], [RowError(label, 0, reason, "")], label, 0)


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
            f"{zname}: its CSV files would expand to {size_text(total)}, over the "
            f"{size_text(limits.max_zip_total_bytes)} limit; refused as a possible zip bomb"
        )
    for i in infos:
        label = f"{zname}:{i.filename}"
        if i.file_size > limits.max_file_bytes:
            raise FileRejected(
                f"{label} would expand to {size_text(i.file_size)}, over the "
                f"{size_text(limits.max_file_bytes)} limit for one file"
            )
        ratio = i.file_size / max(i.compress_size, 1)
        if i.file_size > limits.ratio_floor_bytes and ratio > limits.max_zip_ratio:
            raise FileRejected(
                f"{label} would expand {ratio:.0f} times (to {size_text(i.file_size)}), over the "
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
