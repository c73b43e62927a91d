"""Police street-level crime parser, on the nine real Medway files and corrupted copies."""

from __future__ import annotations

import csv
import io
import time
import zipfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyproj import Transformer

from shared.incidents.parsers import parse_file
from shared.incidents.parsers.police import parse_police_csv, parse_police_zip
from shared.incidents.parsers.results import ParseResult

POLICE = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "police"
FILES = sorted(POLICE.glob("2022-0?-kent-street-medway.csv"))
ASB = "Anti-social behaviour"

pytestmark = pytest.mark.skipif(len(FILES) != 9, reason="real police files not found")


def _raw_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))[1:]


@pytest.fixture(scope="module")
def parsed() -> list[ParseResult]:
    return [parse_police_csv(f) for f in FILES]


def test_real_files_all_rows_kept(parsed: list[ParseResult]) -> None:
    raw = [r for f in FILES for r in _raw_rows(f)]
    rows = [r for p in parsed for r in p.rows]
    assert len(raw) == 26_961  # README
    assert len(rows) == len(raw)
    assert all(not p.errors for p in parsed)
    assert sum(r.category == ASB for r in rows) == sum(r[9] == ASB for r in raw) == 3_971
    assert [p.total_lines for p in parsed] == [len(_raw_rows(f)) + 1 for f in FILES]


def test_real_files_ids_unique_and_stable(parsed: list[ParseResult]) -> None:
    ids = [r.source_id for p in parsed for r in p.rows]
    assert len(set(ids)) == len(ids)
    again = [r.source_id for f in FILES for r in parse_police_csv(f).rows]
    assert again == ids
    with FILES[0].open("rb") as fh:
        from_stream = [r.source_id for r in parse_police_csv(fh).rows]
    assert from_stream == [r.source_id for r in parsed[0].rows]


def test_real_files_asb_repeats_are_separate_incidents(parsed: list[ParseResult]) -> None:
    # Independent count: ASB rows equal to an earlier row of the same file.
    repeats = 0
    for f in FILES:
        seen: Counter[tuple[str, ...]] = Counter()
        for r in _raw_rows(f):
            if r[9] == ASB:
                repeats += seen[tuple(r)] > 0
                seen[tuple(r)] += 1
    asb = [r for p in parsed for r in p.rows if r.category == ASB]
    assert repeats == 1_274  # README
    assert sum(not r.source_id.endswith(":1") for r in asb) == repeats
    assert all(r.attributes["crime_id"] is None for r in asb)


def test_real_files_ids_times_and_projection(parsed: list[ParseResult]) -> None:
    bng = Transformer.from_crs(4326, 27700, always_xy=True)
    for f, p in zip(FILES, parsed, strict=True):
        year, month = int(f.name[:4]), int(f.name[5:7])
        raw = _raw_rows(f)
        for r, row in zip(raw, p.rows, strict=True):
            assert row.occurred_at == datetime(year, month, 1, tzinfo=UTC)
            assert row.time_precision == "month"
            assert row.source_id.startswith(r[0] or f"{r[1]}:{r[3]}:{r[4]}:{r[5]}:{r[9]}:")
            assert (row.lon, row.lat) == (float(r[4]), float(r[5]))
        for r, row in list(zip(raw, p.rows, strict=True))[::500]:
            x, y = bng.transform(float(r[4]), float(r[5]))
            assert row.x == pytest.approx(x, abs=1e-6) and row.y == pytest.approx(y, abs=1e-6)
            assert (
                row.attributes["lsoa_code"] == r[7] and row.attributes["location"] == r[6].strip()
            )


def test_real_files_fast() -> None:
    start = time.perf_counter()
    n = sum(len(parse_police_csv(f).rows) for f in FILES)
    assert n == 26_961
    assert time.perf_counter() - start < 5.0


# A corrupted copy: the header and first rows of a real file with planted problems.
def _corrupted(tmp_path: Path) -> tuple[Path, list[str]]:
    lines = FILES[0].read_text(encoding="utf-8").splitlines()
    header, good = lines[0], lines[1:21]
    asb = good[0]  # an ASB row with no Crime ID
    crime = next(s for s in good if not s.startswith(","))
    f = crime.split(",")
    swapped = ",".join(f[:4] + [f[5], f[4]] + f[6:])
    no_coords = ",".join(f[:4] + ["", ""] + f[6:])
    bad_month = ",".join([f[0], "2022-13"] + f[2:])
    short = ",".join(f[:8])
    cafe = ",".join(f[:6] + ["On or near Café’s Road"] + f[7:])
    formula = ",".join(f[:6] + ['"=HYPERLINK(""http://x"",""y"")"'] + f[7:])
    dup_id = crime
    body = [
        good[1],  # 3
        no_coords,  # 4
        bad_month,  # 5
        swapped,  # 6
        short,  # 7
        "",  # 8 blank
        cafe,  # 9 (cp1252 bytes)
        formula,  # 10
        asb,  # 11 (second copy of the ASB row on line 2: kept, new id)
        dup_id,  # 12 (same Crime ID as line 3)
        ",,,,,,,,,,,",  # 13 spreadsheet blank row
        *good[2:6],  # 14-17
    ]
    text = "\n".join([header, asb, *body]) + "\n"
    # cp1252 bytes e9 and 92 (the right quote differs from latin-1) in an otherwise UTF-8 file.
    name = "Café’s"
    data = b"\xef\xbb\xbf" + text.encode("utf-8").replace(name.encode(), name.encode("cp1252"))
    path = tmp_path / "2022-01-kent-street.csv"
    path.write_bytes(data)
    return path, [header, asb, *body]


def test_corrupted_copy_reports_each_bad_row(tmp_path: Path) -> None:
    path, lines = _corrupted(tmp_path)
    result = parse_police_csv(path)
    reasons = {e.line: e.reason for e in result.errors}
    assert set(reasons) == {4, 5, 6, 7}
    assert reasons[4] == "no coordinates"
    assert "bad month" in reasons[5] and "2022-13" in reasons[5]
    assert "swapped" in reasons[6]
    assert reasons[7] == "expected 12 fields, found 8"
    for e in result.errors:
        assert e.raw == lines[e.line - 1][:300]
        assert e.file == path.name
    kept_lines = [r.attributes["line"] for r in result.rows]
    assert kept_lines == [2, 3, 9, 10, 11, 12, 14, 15, 16, 17]
    assert result.total_lines == len(lines)
    by_line = {r.attributes["line"]: r for r in result.rows}
    assert by_line[9].attributes["location"] == "On or near Café’s Road"
    assert by_line[10].attributes["location"] == '=HYPERLINK("http://x","y")'
    assert by_line[2].source_id.endswith(":1") and by_line[11].source_id.endswith(":2")
    assert by_line[2].source_id[:-2] == by_line[11].source_id[:-2]
    assert len({r.source_id for r in result.rows}) == len(result.rows)
    notes = " | ".join(result.warnings)
    assert "cp1252: lines 9" in notes
    assert "blank lines skipped: 8, 13" in notes
    assert "formula" in notes and "lines 10" in notes
    assert "Crime ID repeated" in notes


def test_repeated_crime_id_gets_occurrence_suffix(tmp_path: Path) -> None:
    path, _ = _corrupted(tmp_path)
    rows = parse_police_csv(path).rows
    dup = [r for r in rows if r.attributes["crime_id"] and r.source_id.endswith(":2")]
    assert len(dup) == 1
    first = [r for r in rows if r.source_id == dup[0].attributes["crime_id"]]
    assert len(first) == 1


def test_unbalanced_quote_costs_one_row(tmp_path: Path) -> None:
    lines = FILES[0].read_text(encoding="utf-8").splitlines()[:11]
    f = lines[3].split(",")
    lines[3] = ",".join(f[:6] + ['"On or near Broken Quote'] + f[7:])
    path = tmp_path / "q.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = parse_police_csv(path)
    assert [r.attributes["line"] for r in result.rows] == [2, 3, *range(5, 12)]
    assert [(e.line, "unterminated quote" in e.reason) for e in result.errors] == [(4, True)]


@pytest.mark.parametrize(
    ("drop", "missing"),
    [(("Longitude", "Latitude"), "Longitude, Latitude"), (("Crime type",), "Crime type")],
)
def test_missing_columns_one_error(tmp_path: Path, drop: tuple[str, ...], missing: str) -> None:
    rows = [FILES[0].read_text(encoding="utf-8").splitlines()[0].split(",")]
    rows += _raw_rows(FILES[0])[:5]
    keep = [i for i, c in enumerate(rows[0]) if c not in drop]
    path = tmp_path / "cols.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([[r[i] for i in keep] for r in rows])
    result = parse_police_csv(path)
    assert result.rows == []
    assert len(result.errors) == 1
    assert result.errors[0].line == 1
    assert result.errors[0].reason == f"missing columns: {missing}"


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    result = parse_police_csv(path)
    assert result.rows == [] and [e.reason for e in result.errors] == ["empty file"]


def _zip(tmp_path: Path) -> Path:
    path = tmp_path / "download.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for f in FILES[:2]:
            month = f.name[:7]
            zf.write(f, f"{month}/{month}-kent-street.csv")
            zf.writestr(f"{month}/{month}-kent-outcomes.csv", "Crime ID,Month\n")
        zf.writestr("2022-01/2022-01-kent-stop-and-search.csv", "Type,Date\n")
    return path


def test_zip_of_monthly_folders(tmp_path: Path) -> None:
    path = _zip(tmp_path)
    results = parse_police_zip(path)
    parsed = [r for r in results if not r.skipped]
    skipped = [r for r in results if r.skipped]
    assert [r.file for r in parsed] == [
        "download.zip:2022-01/2022-01-kent-street.csv",
        "download.zip:2022-02/2022-02-kent-street.csv",
    ]
    for res, f in zip(parsed, FILES[:2], strict=True):
        assert [r.source_id for r in res.rows] == [r.source_id for r in parse_police_csv(f).rows]
        assert len(res.rows) == len(_raw_rows(f)) and not res.errors
    assert len(skipped) == 3
    assert sum("outcomes" in r.warnings[0] for r in skipped) == 2
    assert sum("stop-and-search" in r.warnings[0] for r in skipped) == 1
    again = [r.source_id for res in parse_file(path, source="police") for r in res.rows]
    assert again == [r.source_id for res in parsed for r in res.rows]


def test_parse_file_dispatch(tmp_path: Path) -> None:
    (result,) = parse_file(FILES[1], source="police")
    assert len(result.rows) == len(_raw_rows(FILES[1]))
    with pytest.raises(ValueError, match="unsupported"):
        parse_file(tmp_path / "x.xlsx", source="police")


def test_fileobj_text_stream() -> None:
    text = FILES[2].read_text(encoding="utf-8")
    result = parse_police_csv(io.StringIO(text), name="stream.csv")
    assert result.file == "stream.csv"
    assert len(result.rows) == len(_raw_rows(FILES[2]))
