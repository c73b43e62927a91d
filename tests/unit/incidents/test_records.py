"""The shared record splitter: a bad quote or an over-long field costs its own row, on its own
line, and the rows below are kept (D4, A3). Line numbers are checked against the file as built."""

from __future__ import annotations

import csv
import io

import pytest

from shared.incidents.parsers.generic import parse_generic_csv
from shared.incidents.records import UNTERMINATED, HeaderError, read_header, split_records
from shared.textfiles import physical_lines

HEAD = "id,timestamp,longitude,latitude,category,note\n"


def _row(ident: str, note: str = "ok") -> str:
    return f"{ident},2023-01-01T10:00,0.5290,51.3890,theft,{note}\n"


def _records(text: str, **kw: object) -> list[tuple[int, int, list[str], str | None]]:
    lines = physical_lines(text)
    return [(r.start, r.end, r.fields, r.error) for r in split_records(lines, width=6, **kw)]  # type: ignore[arg-type]


@pytest.mark.parametrize("multiline", [False, True])
def test_unterminated_quote_is_its_own_bad_row_and_the_next_rows_are_kept(
    multiline: bool,
) -> None:
    # Line 3's quote never closes; line 5 has a quoted field, whose opening quote the csv
    # module alone would take as the close of line 3's, swallowing line 4 into one field.
    text = HEAD + _row("A") + _row("B", '"broken') + _row("C") + _row("D", '"quoted"') + _row("E")
    got = _records(text, multiline=multiline)
    assert [(s, e, err) for s, e, _, err in got] == [
        (2, 2, None),
        (3, 3, UNTERMINATED),
        (4, 4, None),
        (5, 5, None),
        (6, 6, None),
    ]
    assert [f[0] for _, _, f, err in got if err is None] == ["A", "C", "D", "E"]
    assert got[3][2][5] == "quoted"


def test_unterminated_quote_on_the_last_line_is_reported() -> None:
    last = _row("B", '"broken')
    for text in (HEAD + _row("A") + last, HEAD + _row("A") + last.rstrip("\n")):
        got = _records(text)
        assert [(s, err) for s, _, _, err in got] == [(2, None), (3, UNTERMINATED)]


def test_quoted_line_breaks_accepted_only_when_asked_and_the_width_fits() -> None:
    text = HEAD + _row("A", '"two\nlines"') + _row("B")
    assert _records(text, multiline=True) == [
        (2, 3, ["A", "2023-01-01T10:00", "0.5290", "51.3890", "theft", "two\nlines"], None),
        (4, 4, ["B", "2023-01-01T10:00", "0.5290", "51.3890", "theft", "ok"], None),
    ]
    # Formats without line breaks read each physical line alone: the first is unterminated
    single = _records(text, multiline=False)
    assert [(s, err) for s, _, _, err in single] == [(2, UNTERMINATED), (3, None), (4, None)]


def test_a_field_over_the_csv_limit_costs_one_row() -> None:
    limit = csv.field_size_limit()
    long_plain = "x" * (limit + 10)
    long_quoted = '"' + ("y" * 70_000 + "\n") * 3 + '"'  # 3 line breaks inside the quotes
    text = HEAD + _row("A") + _row("B", long_plain) + _row("C") + _row("D", long_quoted) + _row("E")
    got = _records(text, multiline=True)
    # B is line 3; C line 4; D spans lines 5..8 (three breaks inside its quotes); E line 9
    assert [(s, e, err is None) for s, e, _, err in got] == [
        (2, 2, True),
        (3, 3, False),
        (4, 4, True),
        (5, 8, False),
        (9, 9, True),
    ]
    assert all(f"longer than {limit:,} characters" in str(err) for *_, err in got if err)


def test_a_header_over_the_csv_limit_is_a_header_error() -> None:
    with pytest.raises(HeaderError, match="longer than"):
        read_header(physical_lines("id," + "n" * (csv.field_size_limit() + 1) + "\n1,2\n"))
    assert read_header(physical_lines("\ufeffid , name\n")) == ["id", "name"]


def test_generic_file_with_a_long_field_keeps_its_good_rows() -> None:
    """A3: one field over 131,072 characters refused the whole file (or cost thousands of
    bogus rows when quoted across lines); now that row is reported and the rest kept."""
    long_quoted = '"' + ("z" * 50_000 + "\n") * 4 + '"'
    text = HEAD + _row("A") + _row("B", long_quoted) + _row("C") + _row("D", "w" * 140_000)
    text += _row("E")
    result = parse_generic_csv(io.BytesIO(text.encode()), source="water")
    assert [r.source_id for r in result.rows] == ["A", "C", "E"]
    assert [r.attributes["line"] for r in result.rows] == [2, 8, 10]
    assert [(e.line, "longer than" in e.reason) for e in result.errors] == [(3, True), (9, True)]
    header = parse_generic_csv(io.BytesIO(("id," + "h" * 140_000 + "\n" + _row("A")).encode()))
    assert [(e.line, "header line" in e.reason) for e in header.errors] == [(1, True)]
    assert header.rows == []
