"""The hotspots demo: a surface run and the newest quarter of ASB compared with the one before,
made once (a second load finds them), from six months of real police data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import SHARED_DATA


def test_demo_compares_the_newest_quarter_of_asb_with_the_one_before(
    db_session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.hotspots.demo import load_demo
    from services.hotspots.models import SurfaceComparison
    from shared.incidents.store import import_file

    monkeypatch.setenv("CSP_OUTPUT_DIR", str(tmp_path))
    for m in range(1, 7):
        import_file(db_session, SHARED_DATA / "police" / f"2022-0{m}-kent-street-medway.csv",
                    source="police")  # fmt: skip
    db_session.flush()
    said = load_demo(db_session, shared_data=SHARED_DATA)
    assert "demo surface run" in said and "(ASB, two quarters): done" in said, said
    row = db_session.scalars(select(SurfaceComparison)).one()
    assert row.params["before"] == {"from": "2022-01-01", "to": "2022-03-31"}
    assert row.params["after"] == {"from": "2022-04-01", "to": "2022-06-30"}
    assert row.params["categories"] == ["Anti-social behaviour"]
    assert row.stats["incidents_before"] > 500 and row.stats["incidents_after"] > 500
    again = load_demo(db_session, shared_data=SHARED_DATA)
    assert "already there" in again and again.count("already there") == 2, again
    assert db_session.scalar(select(func.count()).select_from(SurfaceComparison)) == 1
