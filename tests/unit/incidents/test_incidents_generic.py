"""Generic incident CSV parser (water, fire, others)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pyproj import Transformer

from shared.incidents.parsers import parse_file
from shared.incidents.parsers.generic import parse_generic_csv

SAMPLE = (
    Path(__file__).resolve().parents[2] / "fixtures" / "incidents" / "water_incidents_sample.csv"
)


def test_sample_rows_and_errors() -> None:
    result = parse_generic_csv(SAMPLE, source="water")
    by_id = {r.source_id: r for r in result.rows}
    assert list(by_id) == ["W1", "W2", "W3", "W4", "W5", "W6", "W13"]
    assert all(r.source == "water" for r in result.rows)
    # Naive times are Europe/London: GMT in January, BST in July.
    assert by_id["W1"].occurred_at == datetime(2023, 1, 15, 8, 30, tzinfo=UTC)
    assert by_id["W2"].occurred_at == datetime(2023, 7, 1, 7, 30, tzinfo=UTC)
    assert by_id["W3"].occurred_at == datetime(2023, 7, 1, 8, 30, tzinfo=UTC)
    assert by_id["W4"].occurred_at == datetime(2023, 7, 1, 7, 30, tzinfo=UTC)
    assert by_id["W5"].occurred_at == datetime(2023, 3, 1, tzinfo=UTC)
    assert by_id["W5"].time_precision == "month"
    assert by_id["W6"].occurred_at == datetime(2023, 3, 26, tzinfo=UTC)  # GMT until 01:00
    assert by_id["W6"].attributes["time_known"] is False
    assert by_id["W1"].attributes["time_known"] is True
    assert [by_id[i].weight for i in ("W1", "W2", "W3")] == [1.0, 2.5, 1.0]
    assert by_id["W1"].attributes["station"] == "Chatham"
    assert by_id["W13"].attributes["station"] == "=cmd|' /C calc'!A0"
    reasons = {e.line: e.reason for e in result.errors}
    assert reasons == {
        8: "no id",
        9: "duplicate id 'W2' (first on line 3)",
        10: "bad timestamp '01/04/2023 10:00' (expected ISO 8601)",
        11: "weight must be a finite number >= 0: '-1'",
        12: "longitude and latitude swapped: lon 51.4, lat 0.55",
        13: "no category",
    }
    assert any("formula" in w and "lines 14" in w for w in result.warnings)
    assert result.total_lines == 14


def test_projection_independent() -> None:
    rows = parse_generic_csv(SAMPLE).rows
    bng = Transformer.from_crs(4326, 27700, always_xy=True)
    for r in rows:
        x, y = bng.transform(r.lon, r.lat)
        assert r.x == pytest.approx(x, abs=1e-6) and r.y == pytest.approx(y, abs=1e-6)


def test_ids_stable_and_dispatch() -> None:
    a = [r.source_id for r in parse_generic_csv(SAMPLE, source="fire").rows]
    (res,) = parse_file(SAMPLE, source="fire")
    assert [r.source_id for r in res.rows] == a
    assert all(r.source == "fire" for r in res.rows)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("id,when,longitude,latitude,category", "missing columns: timestamp"),
        ("id,timestamp,lon,lat,category", "missing columns: longitude, latitude"),
        ("id,id,timestamp,longitude,latitude,category", "repeated columns: id"),
    ],
)
def test_bad_header_one_error(header: str, reason: str) -> None:
    data = f"{header}\nA,2023-01-01T00:00:00,0.5,51.4,x\n".encode()
    result = parse_generic_csv(io.BytesIO(data), name="h.csv")
    assert result.rows == []
    assert [(e.file, e.line, e.reason) for e in result.errors] == [("h.csv", 1, reason)]


def test_bad_source_rejected() -> None:
    with pytest.raises(ValueError):
        parse_generic_csv(SAMPLE, source="police")
    with pytest.raises(ValueError):
        parse_generic_csv(SAMPLE, source="Fire Service")


def test_wrong_field_count_and_case_insensitive_header(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ID", "Timestamp", "Longitude", "Latitude", "Category"])
        w.writerow(["a", "2023-05-01T12:00:00+00:00", "0.5", "51.4", "fire"])
        w.writerow(["b", "2023-05-01T12:00:00+00:00", "0.5"])
        w.writerow(["c", "2023-05-01T12:00:00+00:00", "0.5", "51.4", "fire", "extra"])
        w.writerow(["d", "2023-05-01T12:00:00+00:00", "nan", "51.4", "fire"])
        w.writerow(["e", "2023-05-01T12:00:00+00:00", "0.5", "51.4", "fire"])
    result = parse_generic_csv(path, source="fire")
    assert [r.source_id for r in result.rows] == ["a", "e"]
    assert {e.line: e.reason for e in result.errors} == {
        3: "expected 5 fields, found 3",
        4: "expected 5 fields, found 6",
        5: "coordinates not finite",
    }


def test_quoted_newlines_kept_and_unbalanced_quote_costs_one_row() -> None:
    head = "id,timestamp,longitude,latitude,category,note\n"
    ok = 'A,2023-01-01,0.5,51.4,x,"two\nlines"\n'
    broken = 'B,2023-01-01,0.5,51.4,x,"broken\n'
    tail = "C,2023-01-01,0.5,51.4,x,ok\nD,2023-01-01,0.5,51.4,x,ok\n"
    result = parse_generic_csv(io.BytesIO((head + ok + broken + tail).encode()))
    by_id = {r.source_id: r for r in result.rows}
    assert by_id["A"].attributes["note"] == "two\nlines"
    # B's quote never closes: B is the bad row, on its own line; C and D below it are kept
    assert [by_id[i].attributes["line"] for i in ("A", "C", "D")] == [2, 5, 6]
    assert [(e.line, "unterminated quote" in e.reason) for e in result.errors] == [(4, True)]
    assert "quoted line breaks: lines 2" in " ".join(result.warnings)
