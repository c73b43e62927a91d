"""Reading uploaded text files: encodings, byte order marks, lines, and what a non-text file is.

Pure and framework-free; shared by the incident parsers and the camera register import. A file
is decoded as UTF-16/UTF-32 when a byte order mark (or NUL on every other byte) says so, else as
UTF-8 with each line that is not UTF-8 read as cp1252 (what Excel's "CSV (Comma delimited)"
writes on Windows). A workbook, an image or binary data is named, so the user is told what they
sent instead of getting one rejected row per line of noise.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

SNIFF_BYTES = 65536
# A cell starting with one of these runs as a formula when the text is opened in a spreadsheet.
FORMULA_PREFIXES = ("=", "+", "-", "@")

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


def physical_lines(text: str) -> list[str]:
    """Lines ended by CR, LF or CRLF only (never U+2028, U+0085 or form feeds), ends kept."""
    return list(io.StringIO(text, newline=""))


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


def unicode_encoding(data: bytes) -> tuple[str, bool] | None:
    """(codec, had a byte order mark) for UTF-16/UTF-32 text, else None."""
    for bom, codec in _UNICODE_BOMS:
        if data.startswith(bom):
            return codec, True
    guess = _utf16_without_bom(data)
    return (guess, False) if guess else None


def not_text(data: bytes) -> str | None:
    """What a file that is not text (of any encoding) looks like: a zip, a workbook, an image."""
    if unicode_encoding(data):
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


def describe_non_text(data: bytes) -> str | None:
    """What a file that is not 8-bit text looks like (UTF-16/32, a workbook, an image, binary)."""
    if unicode := unicode_encoding(data):
        return f"{unicode[0].upper()} text"
    return not_text(data)


def utf8_or_cp1252(data: bytes) -> tuple[str, list[int]]:
    """UTF-8 text (BOM stripped), lines that are not UTF-8 read as cp1252; and their numbers."""
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


def decode_lines(data: bytes | str) -> tuple[list[str], list[str]]:
    """Physical lines and warnings: UTF-16/32 by BOM or NUL pattern, else UTF-8 or cp1252.

    NUL characters are removed (and the lines that had them named in a warning).
    """
    warnings: list[str] = []
    if isinstance(data, str):
        lines = physical_lines(data.removeprefix("\ufeff"))
    elif unicode := unicode_encoding(data):
        codec, bom = unicode
        raw = data[len(next(b for b, c in _UNICODE_BOMS if c == codec)) :] if bom else data
        try:
            text = raw.decode(codec)
        except UnicodeDecodeError as exc:
            text = raw.decode(codec, errors="replace")
            warnings.append(f"invalid {codec.upper()} bytes replaced (first at byte {exc.start})")
        how = "byte order mark" if bom else "no byte order mark; NUL on every other byte"
        warnings.append(f"decoded as {codec.upper()} ({how})")
        lines = physical_lines(text.removeprefix("\ufeff"))
    else:
        text, bad = utf8_or_cp1252(data)
        lines = physical_lines(text)
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


def formula_like(values: Sequence[str]) -> bool:
    """True when any value starts like a spreadsheet formula (= + - @)."""
    return any(v[:1] in FORMULA_PREFIXES and v[:1] != "" for v in values)
