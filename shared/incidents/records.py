"""Split CSV text into records with their physical line numbers; one bad record costs one row.

Shared by the incident parsers and the camera register import. Python's ``csv`` reader alone
lets an unterminated quote swallow the rows below it (they become one long field, reported at
the last line it read), and stops for good at a field over ``csv.field_size_limit()``. Here
each record comes back with its own first and last line, and a record that cannot be read
carries the reason instead of its fields, so the caller reports that row and keeps the rest.
``reading_notes`` words the file's warnings about its records (blank, multi-line, formulas).

Usage (``physical_lines`` is ``shared.textfiles.physical_lines``)::

    lines = physical_lines(text)
    header = read_header(lines)
    for rec in split_records(lines, width=len(header), multiline=True):
        if rec.error:
            report(rec.start, rec.error)
        else:
            use(rec.start, rec.fields)
"""

from __future__ import annotations

import csv
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass

from shared.textfiles import line_list

UNTERMINATED = 'unterminated quote: a field opened with " does not close on this line'


@dataclass(frozen=True)
class Record:
    """One record: its first and last physical line (1-based) and fields, or why it is unreadable.

    ``error`` is None for a readable record; otherwise ``fields`` is empty and ``error`` says
    why (an unterminated quote, a field over the csv module's size limit, other csv errors).
    ``multiline`` is True for a record accepted with quoted line breaks in it.
    """

    start: int
    end: int
    fields: list[str]
    error: str | None = None
    multiline: bool = False


class HeaderError(ValueError):
    """The header line cannot be read as CSV (for example a field over the size limit)."""


def read_header(lines: Sequence[str]) -> list[str]:
    """The header's column names, stripped (BOM removed); HeaderError when it is unreadable."""
    if not lines:
        return []
    try:
        names = next(csv.reader([lines[0]], strict=True), [])
    except csv.Error as exc:
        raise HeaderError(f"the header line cannot be read as CSV: {_reason(exc)}") from exc
    return [n.strip().removeprefix("\ufeff") for n in names]


def split_records(
    lines: Sequence[str],
    *,
    width: int | None = None,
    multiline: bool = False,
    first: int = 2,
) -> Iterator[Record]:
    """Yield the records from physical line ``first`` (1-based; 2 skips a header) to the end.

    A record with quoted line breaks is accepted only when ``multiline`` is True, it has
    ``width`` fields (when given) and its quotes balance; otherwise each of its physical lines
    is read alone, so a stray or unterminated quote costs its own row, never the rows below.
    A line whose quote never closes is a Record with ``error`` set.
    """
    i = first - 1  # index of the next line not yet read
    while i < len(lines):
        i = yield from _read_from(lines, i, width, multiline)


def _read_from(
    lines: Sequence[str], i: int, width: int | None, multiline: bool
) -> Generator[Record, None, int]:
    """Read records from line index ``i``; return where to restart after an error (or the end)."""
    reader = csv.reader(iter(lines[i:]))
    done = 0  # lines of lines[i:] consumed by complete records
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return len(lines)
        except csv.Error as exc:
            start = i + done + 1
            end = _record_end(lines, start)
            yield Record(start, end, [], _reason(exc))
            return end  # restart on the line after the record
        start, end = i + done + 1, i + reader.line_num
        done = reader.line_num
        if end == start:
            at_eof = end == len(lines)
            yield _single(lines[start - 1], start) if at_eof else Record(start, end, fields)
        elif (
            multiline
            and (width is None or len(fields) == width)
            and _balanced(lines[start - 1 : end])
        ):
            yield Record(start, end, fields, multiline=True)
        else:
            for n in range(start, end + 1):
                yield _single(lines[n - 1], n)


def _single(line: str, n: int) -> Record:
    """One physical line read alone; an unterminated quote is its error."""
    try:
        list(csv.reader([line], strict=True))
    except csv.Error as exc:
        if "unexpected end of data" in str(exc):
            return Record(n, n, [], UNTERMINATED)
    try:
        return Record(n, n, next(csv.reader([line]), []))
    except csv.Error as exc:
        return Record(n, n, [], _reason(exc))


def _record_end(lines: Sequence[str], start: int) -> int:
    """Last line of the record starting on ``start``: where its quotes balance, else ``start``."""
    quotes = 0
    for n in range(start, len(lines) + 1):
        quotes += lines[n - 1].count('"')
        if quotes % 2 == 0:
            return n
    return start


def _balanced(lines: Sequence[str]) -> bool:
    return sum(s.count('"') for s in lines) % 2 == 0


def _reason(exc: csv.Error) -> str:
    msg = str(exc)
    if "field larger than field limit" in msg:
        return f"a field is longer than {csv.field_size_limit():,} characters"
    return f"unreadable CSV: {msg}"


def reading_notes(
    *, blank: Sequence[int], multiline: Sequence[int], formula: Sequence[int]
) -> list[str]:
    """A file's warnings about its records: blank lines, quoted line breaks, formula-like text."""
    out = []
    if blank:
        out.append(f"blank lines skipped: {line_list(blank)}")
    if multiline:
        out.append(f"records with quoted line breaks: lines {line_list(multiline)}")
    if formula:
        out.append(
            "text starting with = + - @ kept as text (spreadsheet formula risk on export): "
            f"lines {line_list(formula)}"
        )
    return out
