"""Guards in the incident parsers: encodings, non-CSV files, size limits, zip bombs, unsafe zips."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import pytest

from shared.incidents.parsers import parse_file
from shared.incidents.parsers.generic import parse_generic_csv
from shared.incidents.parsers.police import parse_police_csv
from shared.incidents.parsers.results import (
    CATEGORY_MAX,
    DEFAULT_LIMITS,
    SOURCE_ID_MAX,
    FileRejected,
    Limits,
    ParseResult,
)
from tests.fixtures import bad_files as bf


def _ids(result: ParseResult) -> list[str]:
    return [r.source_id for r in result.rows]


def _locations(result: ParseResult) -> list[str]:
    return [r.attributes["location"] for r in result.rows]


def _as_utf8(case: bf.Case, codec: str, tmp_path: Path) -> ParseResult:
    """The same file re-encoded as plain UTF-8 (decoded independently with Python's codec)."""
    raw = case.path.read_bytes()
    text = raw.decode(codec).removeprefix("\ufeff")
    return parse_police_csv(io.BytesIO(text.encode("utf-8")), name="utf8")


@pytest.mark.parametrize(
    ("builder", "codec"),
    [
        (bf.build_utf16_le_bom, "utf-16"),
        (bf.build_utf16_be_bom, "utf-16"),
        (bf.build_utf16_le_no_bom, "utf-16-le"),
        (bf.build_utf8_bom, "utf-8-sig"),
        (bf.build_cp1252, "cp1252"),
        (bf.build_latin1, "latin-1"),
    ],
)
def test_encodings_give_the_rows_of_the_utf8_file(
    builder: object, codec: str, tmp_path: Path
) -> None:
    case = builder(tmp_path)  # type: ignore[operator]
    result = parse_police_csv(case.path)
    reference = _as_utf8(case, codec, tmp_path)
    assert not result.errors and len(result.rows) == case.good == len(reference.rows)
    assert _ids(result) == _ids(reference)
    assert _locations(result) == _locations(reference)
    assert [(r.lon, r.lat) for r in result.rows] == [(r.lon, r.lat) for r in reference.rows]
    if case.note:
        assert any(case.note in w for w in result.warnings), result.warnings
    for line in case.lines:  # the planted non-ASCII text survives intact
        row = next(r for r in result.rows if r.attributes["line"] == line)
        assert not set(row.attributes["location"]) & {"\ufffd", "\x00", "Ã"}


def test_utf32_with_bom(tmp_path: Path) -> None:
    text = bf._csv_text([bf.police_header(), *bf.police_rows(5)])
    path = tmp_path / "u32.csv"
    path.write_bytes(b"\xff\xfe\x00\x00" + text.encode("utf-32-le"))
    result = parse_police_csv(path)
    assert len(result.rows) == 5 and not result.errors
    assert any("UTF-32-LE" in w for w in result.warnings)


def test_odd_length_utf16_is_replaced_not_fatal(tmp_path: Path) -> None:
    text = bf._csv_text([bf.police_header(), *bf.police_rows(5)])
    path = tmp_path / "cut.csv"
    path.write_bytes(b"\xff\xfe" + text.encode("utf-16-le") + b"\x41")  # one stray byte
    result = parse_police_csv(path)
    assert len(result.rows) == 5
    assert any("invalid UTF-16-LE bytes replaced" in w for w in result.warnings)


@pytest.mark.parametrize(
    "builder",
    [
        bf.build_png_as_csv,
        bf.build_pdf_as_csv,
        bf.build_xlsx_as_csv,
        bf.build_zip_as_csv,
        bf.build_random_bytes_as_csv,
        bf.build_html_as_csv,
    ],
)
def test_not_csv_is_one_clear_error(builder: object, tmp_path: Path) -> None:
    case = builder(tmp_path)  # type: ignore[operator]
    for source in ("police", "stats19", "water"):
        (result,) = parse_file(case.path, source=source)
        assert result.rows == [] and len(result.errors) == 1
        (err,) = result.errors
        ((line, fragment),) = case.bad.items()
        assert err.line == line and fragment in err.reason, err.reason


def test_a_few_nul_bytes_are_not_binary(tmp_path: Path) -> None:
    case = bf.build_nul_bytes(tmp_path)
    result = parse_police_csv(case.path)
    assert len(result.rows) == case.good and not result.errors
    warning = next(w for w in result.warnings if case.note in w)
    assert warning.endswith(", ".join(str(n) for n in case.lines))


def test_line_separators_inside_fields_keep_line_numbers(tmp_path: Path) -> None:
    case = bf.build_line_separators(tmp_path)
    result = parse_police_csv(case.path)
    assert len(result.rows) == case.good
    assert {e.line: e.reason for e in result.errors}.keys() == case.bad.keys()
    assert "bad month" in result.errors[0].reason
    assert "\u2028" in result.rows[2].attributes["location"]
    # every kept row's line is its physical line in the file
    physical = case.path.read_bytes().split(b"\n")
    for row in result.rows:
        assert row.attributes["crime_id"].encode() in physical[row.attributes["line"] - 1]


def test_overlong_id_and_category_are_bad_rows(tmp_path: Path) -> None:
    case = bf.build_overlong_values(tmp_path)
    result = parse_generic_csv(case.path, source="water")
    assert len(result.rows) == case.good
    got = {e.line: e.reason for e in result.errors}
    assert got.keys() == case.bad.keys()
    for line, fragment in case.bad.items():
        assert fragment in got[line]
    assert max(len(r.source_id) for r in result.rows) <= SOURCE_ID_MAX
    assert max(len(r.category) for r in result.rows) <= CATEGORY_MAX


def test_overlong_police_fields_are_bad_rows(tmp_path: Path) -> None:
    rows = bf.police_rows(6)
    header = bf.police_header()
    rows[1][header.index("Falls within")] = "K" * 200
    rows[3][header.index("Crime type")] = "T" * 121
    rows[4][header.index("Crime ID")] = "f" * 400
    path = tmp_path / "long.csv"
    path.write_text(bf._csv_text([header, *rows]))
    result = parse_police_csv(path)
    assert [e.line for e in result.errors] == [3, 5, 6]
    assert len(result.rows) == 3
    assert all(len(r.source_id) <= SOURCE_ID_MAX for r in result.rows)


def test_size_limit_is_inclusive(tmp_path: Path) -> None:
    case = bf.build_header_only(tmp_path)
    size = case.path.stat().st_size
    assert parse_file(case.path, source="police", limits=Limits(max_file_bytes=size))
    with pytest.raises(FileRejected, match="over the"):
        parse_file(case.path, source="police", limits=Limits(max_file_bytes=size - 1))
    with pytest.raises(FileRejected):
        parse_police_csv(io.BytesIO(case.path.read_bytes()), max_bytes=size - 1)


def test_enormous_file_refused_without_reading(tmp_path: Path) -> None:
    case = bf.build_oversized(tmp_path)
    assert case.path.stat().st_size > DEFAULT_LIMITS.max_file_bytes
    t0 = time.perf_counter()
    with pytest.raises(FileRejected, match="256.0 MiB limit"):
        parse_file(case.path, source="police")
    assert time.perf_counter() - t0 < 0.5


def test_zip_bomb_refused_from_declared_sizes(tmp_path: Path) -> None:
    case = bf.build_zip_bomb(tmp_path)
    assert case.path.stat().st_size < 2 * bf.MIB
    with zipfile.ZipFile(case.path) as zf:  # an honest bomb: the zip says what it holds
        (info,) = zf.infolist()
        assert info.file_size == 600 * bf.MIB
    t0 = time.perf_counter()
    with pytest.raises(FileRejected, match="zip bomb") as exc:
        parse_file(case.path, source="police")
    assert "600.0 MiB" in str(exc.value) and "512.0 MiB" in str(exc.value)
    assert time.perf_counter() - t0 < 0.5


def test_ratio_bomb_refused(tmp_path: Path) -> None:
    case = bf.build_ratio_bomb(tmp_path)
    with zipfile.ZipFile(case.path) as zf:
        (info,) = zf.infolist()
    assert info.file_size <= DEFAULT_LIMITS.max_file_bytes
    with pytest.raises(FileRejected, match=r"would expand \d+ times"):
        parse_file(case.path, source="police")
    # the same zip passes when the ratio limit is raised: the ratio alone refused it
    loose = Limits(max_zip_ratio=10_000)
    (result,) = parse_file(case.path, source="police", limits=loose)
    assert result.rows == [] and result.errors


def test_member_count_refused_before_the_directory_is_read(tmp_path: Path) -> None:
    case = bf.build_many_members(tmp_path)
    with pytest.raises(FileRejected, match="2001 entries"):
        parse_file(case.path, source="police")
    results = parse_file(case.path, source="police", limits=Limits(max_zip_members=2001))
    assert len(results) == 2001 and all(r.skipped for r in results)


def test_total_limit_counts_only_members_that_are_read(tmp_path: Path) -> None:
    case = bf.build_good_zip(tmp_path)
    with zipfile.ZipFile(case.path) as zf:
        street = sum(i.file_size for i in zf.infolist() if "street" in i.filename)
    ok = parse_file(case.path, source="police", limits=Limits(max_zip_total_bytes=street))
    assert sum(len(r.rows) for r in ok) == case.good
    with pytest.raises(FileRejected, match="zip bomb"):
        parse_file(case.path, source="police", limits=Limits(max_zip_total_bytes=street - 1))


def test_nested_zip_reported_not_opened(tmp_path: Path) -> None:
    case = bf.build_nested_zip(tmp_path)
    results = parse_file(case.path, source="police")
    assert sum(len(r.rows) for r in results) == case.good
    (nested,) = [r for r in results if r.errors]
    assert not nested.skipped and nested.errors[0].line == 0
    assert case.note in nested.errors[0].reason and nested.file.endswith(".zip")


def test_path_traversal_members_reported_never_read(tmp_path: Path) -> None:
    case = bf.build_path_traversal(tmp_path)
    results = parse_file(case.path, source="police")
    assert sum(len(r.rows) for r in results) == case.good
    refused = [r for r in results if r.errors]
    assert sorted(r.file.split(":", 1)[1] for r in refused) == sorted(bf.TRAVERSAL_NAMES)
    assert all(case.note in r.errors[0].reason for r in refused)
    assert not (tmp_path.parent / "2022-02").exists()


def test_truncated_zip_refused(tmp_path: Path) -> None:
    case = bf.build_truncated_zip(tmp_path)
    with pytest.raises(FileRejected, match=case.note):
        parse_file(case.path, source="police")
    with pytest.raises(FileRejected, match=case.note):
        parse_file(case.path, source="stats19")


def test_corrupt_member_is_its_own_error_other_months_kept(tmp_path: Path) -> None:
    case = bf.build_corrupt_member(tmp_path)
    results = parse_file(case.path, source="police")
    good, bad = results
    assert len(good.rows) == case.good and not good.errors
    assert bad.rows == [] and bad.errors[0].line == 0 and case.note in bad.errors[0].reason


def test_real_download_passes_the_default_limits(tmp_path: Path) -> None:
    path = tmp_path / "real.zip"
    files = sorted(bf.POLICE_DIR.glob("*.csv"))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for f in files:
            zf.write(f, f"{f.name[:7]}/{f.name[:7]}-kent-street.csv")
    results = parse_file(path, source="police")
    expected = [len(parse_police_csv(f).rows) for f in files]
    assert [len(r.rows) for r in results] == expected


@pytest.mark.parametrize(
    "stamp", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "1066-10-14", "2201-01-01"]
)
def test_timestamps_outside_plausible_years_are_bad_rows(stamp: str, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text(
        "id,timestamp,longitude,latitude,category\n"
        "a,2024-05-01T10:00:00,0.52,51.39,flood\n"
        f"b,{stamp},0.52,51.39,flood\n"
    )
    result = parse_generic_csv(path, source="water")
    assert [r.source_id for r in result.rows] == ["a"]
    assert [(e.line, "outside 1900..2200" in e.reason) for e in result.errors] == [(3, True)]


def test_stats19_year_outside_range_is_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    path.write_text(
        "collision_index,collision_severity,date,time,longitude,latitude\n"
        "2024460000001,3,01/05/2024,10:00,0.52,51.39\n"
        "2024460000002,3,01/05/0001,10:00,0.52,51.39\n"
    )
    (result,) = parse_file(path, source="stats19")
    assert len(result.rows) == 1
    assert [(e.line, "outside 1900..2200" in e.reason) for e in result.errors] == [(3, True)]
