"""shared.textfiles: decoding and sniffing, checked on bytes built here with Python's codecs."""

from __future__ import annotations

import pytest

from shared.textfiles import (
    decode_lines,
    describe_non_text,
    formula_like,
    line_list,
    physical_lines,
    utf8_or_cp1252,
)

TEXT = "id,name\r\n1,Caf\u00e9\n2,na\u00efve\r3,end"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_unicode_with_a_bom_decodes_to_the_same_lines(codec: str) -> None:
    bom = "\ufeff".encode(codec)
    lines, warnings = decode_lines(bom + TEXT.encode(codec))
    assert lines == ["id,name\r\n", "1,Caf\u00e9\n", "2,na\u00efve\r", "3,end"]
    assert warnings == [f"decoded as {codec.upper()} (byte order mark)"]


def test_utf16_without_a_bom_is_found_by_its_nul_bytes() -> None:
    lines, warnings = decode_lines("id,name\n1,a\n2,b\n".encode("utf-16-le"))
    assert lines == ["id,name\n", "1,a\n", "2,b\n"]
    assert "no byte order mark" in warnings[0]


def test_lines_that_are_not_utf8_are_read_as_cp1252() -> None:
    data = b"a\n" + "b\u00e9\n".encode("cp1252") + "c\u00e9\n".encode() + b"\x80\n"
    text, bad = utf8_or_cp1252(data)
    assert text == "a\nb\u00e9\nc\u00e9\n\u20ac\n"
    assert bad == [2, 4]
    assert decode_lines(data)[1] == ["not UTF-8, decoded as cp1252: lines 2, 4"]


def test_nul_characters_are_removed_and_named() -> None:
    lines, warnings = decode_lines(b"a\x00b\nc\n")
    assert lines == ["ab\n", "c\n"] and warnings == ["NUL bytes removed: lines 1"]


def test_physical_lines_break_only_on_cr_lf() -> None:
    assert physical_lines("a\u2028b\x0cc\u0085d\r\ne") == ["a\u2028b\x0cc\u0085d\r\n", "e"]


@pytest.mark.parametrize(
    ("head", "fragment"),
    [
        (b"PK\x03\x04....[Content_Types].xml", "Excel workbook"),
        (b"PK\x03\x04....", "zip archive"),
        (b"%PDF-1.7", "PDF"),
        (b"\x89PNG\r\n\x1a\n", "PNG"),
        (bytes(range(32)) * 4, "binary data"),
        ("\ufeffid".encode("utf-16-le"), "UTF-16-LE text"),
    ],
)
def test_what_a_non_text_file_is(head: bytes, fragment: str) -> None:
    what = describe_non_text(head)
    assert what is not None and fragment in what


def test_plain_text_is_text() -> None:
    assert describe_non_text("id,name\n1,Caf\u00e9\n".encode()) is None


def test_line_list_and_formulas() -> None:
    assert line_list(list(range(1, 26))) == ", ".join(map(str, range(1, 21))) + " and 5 more"
    assert formula_like(["ok", "=SUM(A1)"]) and formula_like(["@x"])
    assert not formula_like(["", "a=b", "1"])
