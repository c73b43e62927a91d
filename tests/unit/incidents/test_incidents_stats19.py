"""STATS19 collision parser on files built from the DfT data guide (make_stats19)."""

from __future__ import annotations

import csv
import importlib.util
import math
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from zoneinfo import ZoneInfo

import pytest
from pyproj import Transformer

from shared.incidents.parsers import parse_file
from shared.incidents.parsers.stats19 import parse_stats19_csv
from shared.incidents.stats19_codes import COLLISION_CODES, COLLISION_FIELDS


def _load_make_stats19() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "fixtures" / "make_stats19.py"
    spec = importlib.util.spec_from_file_location("make_stats19", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_stats19", module)
    spec.loader.exec_module(module)
    return module


ms = _load_make_stats19()
TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)
TO_WGS = Transformer.from_crs(27700, 4326, always_xy=True)
LONDON = ZoneInfo("Europe/London")


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_copied_field_list_and_codes_match_guide() -> None:
    pytest.importorskip("openpyxl")
    if not ms.GUIDE.exists():
        pytest.skip("DfT guide not found")
    ms.read_guide.cache_clear()
    fields, codes = ms.read_guide()
    assert fields == COLLISION_FIELDS
    assert "collision_adjusted_serious" in fields and "collision_index" in fields
    for name, table in COLLISION_CODES.items():
        assert tuple(table) == codes[name], name


def test_random_file_parses_with_independent_weights(tmp_path: Path) -> None:
    path = ms.make_collisions_csv(tmp_path / "c.csv", n=300, seed=7)
    raw = _read(path)
    result = parse_stats19_csv(path)
    assert not result.errors and len(result.rows) == 300 == len(raw)
    assert result.total_lines == 301
    for r, row in zip(raw, result.rows, strict=True):
        sev = int(r["collision_severity"])
        expected = 1.0 if sev == 1 else float(r["collision_adjusted_serious"])
        assert row.weight == expected
        assert row.source == "stats19" and row.category == "road_collision"
        assert row.source_id == r["collision_index"]
        assert row.attributes["severity"] == {1: "fatal", 2: "serious", 3: "slight"}[sev]
        assert (row.x, row.y) == (
            float(r["location_easting_osgr"]),
            float(r["location_northing_osgr"]),
        )
        assert (row.lon, row.lat) == (float(r["longitude"]), float(r["latitude"]))
        local = datetime.strptime(f"{r['date']} {r['time']}", "%d/%m/%Y %H:%M")
        assert row.occurred_at == local.replace(tzinfo=LONDON).astimezone(UTC)
        assert row.time_precision == "exact"
        assert row.attributes["police_force"] == 46
        assert row.attributes["local_authority_ons_district"] == "E06000035"
        assert row.attributes["labels"]["police_force"] == "Kent"
    assert {1, 2, 3} <= {int(r["collision_severity"]) for r in raw}
    assert all(575_000 <= r.x <= 580_000 and 165_000 <= r.y <= 170_000 for r in result.rows)


def test_weights_and_missing_codes(tmp_path: Path) -> None:
    planted = [
        {"collision_severity": 1, "collision_adjusted_serious": 0},  # 2: fatal -> 1
        {"collision_severity": 2, "collision_adjusted_serious": "NULL"},  # 3: -> 1
        {"collision_severity": 3, "collision_adjusted_serious": "-1"},  # 4: -> 0
        {"collision_severity": 3, "collision_adjusted_serious": ""},  # 5: -> 0
        {"collision_severity": 2, "collision_adjusted_serious": 0.4},  # 6: -> 0.4
        {"collision_severity": 3, "collision_adjusted_serious": 0.25},  # 7: -> 0.25
        {"speed_limit": -1, "road_type": -1, "first_road_class": -1},  # 8
        {"time": "NULL", "date": "01/07/2023"},  # 9
    ]
    path = ms.make_collisions_csv(tmp_path / "w.csv", planted, seed=3)
    result = parse_stats19_csv(path)
    assert not result.errors
    weights = [r.weight for r in result.rows[:6]]
    assert weights == [1.0, 1.0, 0.0, 0.0, 0.4, 0.25]
    missing = result.rows[6].attributes
    assert missing["speed_limit"] is None and missing["road_type"] is None
    assert missing["first_road_class"] is None and "road_type" not in missing["labels"]
    no_time = result.rows[7]
    assert no_time.attributes["time_known"] is False
    assert no_time.occurred_at == datetime(2023, 6, 30, 23, 0, tzinfo=UTC)  # BST midnight


def test_bad_rows_reported_with_lines(tmp_path: Path) -> None:
    planted = [
        {},  # 2 ok
        {"date": "31/02/2023"},  # 3
        {"date": "2023/01/05"},  # 4
        {"time": "25:10"},  # 5
        {"collision_severity": 4},  # 6
        {"collision_severity": -1},  # 7
        {"collision_adjusted_serious": 1.7},  # 8
        {  # 9: nowhere
            "location_easting_osgr": "NULL",
            "location_northing_osgr": "NULL",
            "longitude": "NULL",
            "latitude": "NULL",
        },
        {"collision_index": "2023460000001"},  # 10: duplicate of line 2
        {"collision_index": ""},  # 11
        {"location_easting_osgr": 9_000_000},  # 12
        {},  # 13 ok
    ]
    path = ms.make_collisions_csv(tmp_path / "bad.csv", planted, seed=5)
    result = parse_stats19_csv(path)
    reasons = {e.line: e.reason for e in result.errors}
    assert sorted(reasons) == list(range(3, 13))
    assert reasons[3].startswith("bad date '31/02/2023'")
    assert reasons[4].startswith("bad date '2023/01/05'")
    assert reasons[5].startswith("bad time '25:10'")
    assert reasons[6].startswith("bad collision_severity '4'")
    assert reasons[7].startswith("bad collision_severity '-1'")
    assert "outside 0..1" in reasons[8]
    assert reasons[9] == "no coordinates"
    assert reasons[10] == "duplicate collision_index 2023460000001 (first on line 2)"
    assert reasons[11] == "no collision_index"
    assert reasons[12].startswith("outside Medway and 15 km around it: easting 9000000")
    assert [r.attributes["line"] for r in result.rows] == [2, 13]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert all(e.raw == lines[e.line - 1][:300] for e in result.errors)


def test_location_fallbacks(tmp_path: Path) -> None:
    planted = [
        {  # 2: lon/lat only -> x/y projected
            "location_easting_osgr": "NULL",
            "location_northing_osgr": "NULL",
            "longitude": "0.530000",
            "latitude": "51.380000",
        },
        {  # 3: easting/northing only -> lon/lat from the inverse projection
            "location_easting_osgr": 577_000,
            "location_northing_osgr": 168_000,
            "longitude": "",
            "latitude": "",
        },
    ]
    path = ms.make_collisions_csv(tmp_path / "loc.csv", planted, seed=1)
    a, b = parse_stats19_csv(path).rows
    x, y = TO_BNG.transform(0.53, 51.38)
    assert (a.lon, a.lat) == (0.53, 51.38)
    assert a.x == pytest.approx(x, abs=1e-6) and a.y == pytest.approx(y, abs=1e-6)
    lon, lat = TO_WGS.transform(577_000, 168_000)
    assert (b.x, b.y) == (577_000.0, 168_000.0)
    assert b.lon == pytest.approx(lon, abs=1e-9) and b.lat == pytest.approx(lat, abs=1e-9)


def test_planted_cluster_positions(tmp_path: Path) -> None:
    planted = ms.cluster(576_500, 167_500, 25, radius_m=40, seed=2, collision_severity=2)
    path = ms.make_collisions_csv(tmp_path / "cl.csv", planted, n=40, seed=9)
    rows = parse_stats19_csv(path).rows
    assert len(rows) == 65
    near = [r for r in rows if math.hypot(r.x - 576_500, r.y - 167_500) <= 40.5]
    assert len(near) >= 25
    tail = rows[40:]
    assert all(r.attributes["severity"] == "serious" for r in tail)
    assert all(math.hypot(r.x - 576_500, r.y - 167_500) <= 40.5 for r in tail)


def test_legacy_header_names(tmp_path: Path) -> None:
    rename = {
        "collision_index": "accident_index",
        "collision_severity": "accident_severity",
        "collision_adjusted_serious": "collision_adjusted_severity_serious",
        "collision_adjusted_slight": "collision_adjusted_severity_slight",
    }
    new = ms.make_collisions_csv(tmp_path / "new.csv", n=30, seed=4)
    old = ms.make_collisions_csv(tmp_path / "old.csv", n=30, seed=4, rename=rename)
    assert _read(old)[0].keys() != _read(new)[0].keys()
    a, b = parse_stats19_csv(new), parse_stats19_csv(old)
    assert not b.errors
    assert [(r.source_id, r.weight, r.occurred_at) for r in a.rows] == [
        (r.source_id, r.weight, r.occurred_at) for r in b.rows
    ]


def test_missing_columns_one_error(tmp_path: Path) -> None:
    fields = [f for f in COLLISION_FIELDS if f not in ("date", "collision_severity")]
    path = ms.make_collisions_csv(tmp_path / "m.csv", n=5, fields=fields)
    result = parse_stats19_csv(path)
    assert result.rows == []
    assert [(e.line, e.reason) for e in result.errors] == [
        (1, "missing columns: collision_severity, date")
    ]


def test_reimport_same_ids_and_dispatch(tmp_path: Path) -> None:
    path = ms.make_collisions_csv(tmp_path / "r.csv", n=50, seed=11)
    ids = [r.source_id for r in parse_stats19_csv(path).rows]
    (again,) = parse_file(path, source="stats19")
    assert [r.source_id for r in again.rows] == ids
    assert len(set(ids)) == 50


def test_dst_boundaries(tmp_path: Path) -> None:
    planted = [
        {"date": "15/01/2023", "time": "08:30"},
        {"date": "01/07/2023", "time": "08:30"},
        {"date": "29/10/2023", "time": "00:30"},
    ]
    path = ms.make_collisions_csv(tmp_path / "dst.csv", planted)
    times = [r.occurred_at for r in parse_stats19_csv(path).rows]
    assert times == [
        datetime(2023, 1, 15, 8, 30, tzinfo=UTC),
        datetime(2023, 7, 1, 7, 30, tzinfo=UTC),
        datetime(2023, 10, 28, 23, 30, tzinfo=UTC),
    ]
