"""Incident imports on the real PostGIS: real police files, a corrupted copy, re-imports."""

import csv
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from shared.incidents.models import Incident, IncidentImport
from shared.incidents.store import import_file, load_points
from tests.conftest import SHARED_DATA

POLICE = SHARED_DATA / "police"


def _count(s: Any) -> int:
    return int(s.scalar(select(func.count()).select_from(Incident)))


def test_real_police_files_import_once(db_session: Any) -> None:
    files = sorted(POLICE.glob("*.csv"))
    expected = sum(sum(1 for _ in csv.DictReader(f.open())) for f in files)
    for f in files:
        import_file(db_session, f, source="police")
    assert _count(db_session) == expected == 26961
    for f in files:
        (rec,) = import_file(db_session, f, source="police")
        assert rec.rows_added == 0 and rec.rows_existing == rec.rows_read
    assert _count(db_session) == expected
    asb = db_session.scalar(
        select(func.count())
        .select_from(Incident)
        .where(Incident.category == "Anti-social behaviour")
    )
    assert asb == 3971  # identical ASB rows are separate incidents, never merged
    pts = load_points(db_session, sources=["police"])
    assert len(pts) == expected and pts.month_only.all()
    assert 560_000 < pts.x.min() and pts.x.max() < 590_000  # Medway, in metres


def test_corrupted_copy_keeps_good_rows_reports_bad_ones(db_session: Any, tmp_path: Path) -> None:
    src = (POLICE / "2022-03-kent-street-medway.csv").read_text().splitlines()
    header, rows = src[0], src[1:]
    bad = list(rows[:200])
    bad[9] = bad[9].replace(bad[9].split(",")[4], "", 1)  # line 11: longitude blanked
    bad[19] = ",".join(bad[19].split(",")[:5])  # line 21: too few fields
    bad[29] = bad[29].replace("2022-03", "2022-13", 1)  # line 31: impossible month
    path = tmp_path / "corrupt.csv"
    path.write_text("\n".join([header, *bad]) + "\n")
    (rec,) = import_file(db_session, path, source="police")
    assert rec.rows_rejected == 3 and rec.rows_added == 197
    assert [e["line"] for e in rec.errors] == [11, 21, 31]
    assert all(e["reason"] for e in rec.errors)
    (again,) = import_file(db_session, path, source="police")
    assert again.rows_added == 0 and again.rows_existing == 197 and again.rows_rejected == 3
    stored = db_session.scalars(select(IncidentImport).order_by(IncidentImport.id)).all()
    assert [r.rows_added for r in stored] == [197, 0]


def test_failed_import_leaves_nothing(db_session: Any, tmp_path: Path) -> None:
    path = tmp_path / "ok.csv"
    path.write_text(
        "id,timestamp,longitude,latitude,category\nw1,2024-05-01T10:00:00,0.52,51.39,water_rescue\n"
    )
    before = _count(db_session)
    nested = db_session.begin_nested()
    import_file(db_session, path, source="water")
    assert _count(db_session) == before + 1
    nested.rollback()  # what the CLI and API do when anything in the import fails
    assert _count(db_session) == before


def test_unknown_source_refused(db_session: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown source"):
        import_file(db_session, tmp_path / "x.csv", source="nonsense")
