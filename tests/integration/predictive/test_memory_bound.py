"""A1: the worst area a client can send keeps the predictive work under 2 GB.

Each case runs the service's own list-making in a child process whose address space is capped
at 2 GiB (``RLIMIT_AS``), on the test database in a transaction it rolls back. Past the cap an
allocation raises MemoryError (where the kernel would otherwise kill the service), so a
pass means the work fits. The old code took the service to 21 GB with the whole-GB area, and
needed 1.9 GB for the mask alone of the largest area it should accept.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import ROOT, TEST_DB

LIMIT_BYTES = 2 * 1024**3

CHILD = r"""
import json, resource, sys
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

import shapely
from geoalchemy2.shape import from_shape
from shapely.geometry import box, mapping
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.predictive.agencies.service import ensure_agencies, update_agency
from services.predictive.dates import today_london
from services.predictive.limits import Limits
from services.predictive.lists.service import request_list
from shared.db import make_engine
from shared.extent import GridTooLarge, partnership_extent
from shared.geometry import to_wgs84
from tests.factories import store_incidents, synthetic_incidents

url, case = sys.argv[1], sys.argv[2]
limits = Limits(max_cells=4_000_000, margin_m=15_000.0)
engine = make_engine(url)
conn = engine.connect()
outer = conn.begin()
session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
out = {}
try:
    ensure_agencies(session)
    day = today_london()
    store_incidents(session, synthetic_incidents(end=day, seed=23), source="fire")
    if case == "whole_gb":
        # Stored before the checks existed (PATCH refuses it now): 700 x 1,250 km at 25 m.
        session.execute(
            text(
                "UPDATE predictive.agencies SET cell_size_m = 25, method = 'etas_smooth', "
                "area = ST_Multi(ST_MakeEnvelope(0, 0, 700000, 1250000, 27700)) "
                "WHERE code = 'kfrs'"
            )
        )
    else:
        # The largest area PATCH accepts (the partnership and its margin) at the smallest
        # cell size it accepts, with the most memory-hungry method.
        allowed = partnership_extent(limits.margin_m).allowed.buffer(-50.0)
        wgs = shapely.transform(allowed, lambda c: __import__("numpy").column_stack(
            to_wgs84(c[:, 0], c[:, 1])))
        update_agency(
            session, code="kfrs", limits=limits,
            changes={"area": mapping(wgs), "cell_size_m": 25.0, "method": "etas_smooth"},
        )
    session.flush()
    try:
        view, _ = request_list(session, agency_code="kfrs", day=day, limits=limits)
        out = {"outcome": "made", "cells": view.target_list.n_candidate_cells,
               "method": view.target_list.method, "boxes": len(view.boxes)}
    except GridTooLarge as exc:
        out = {"outcome": "refused", "detail": str(exc)}
finally:
    session.close()
    outer.rollback()
    conn.close()
    engine.dispose()
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def _run(case: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, TEST_DB, case, str(LIMIT_BYTES)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


@pytest.mark.usefixtures("engine")
def test_whole_gb_area_ends_in_the_limit_error_not_memory_error() -> None:
    got = _run("whole_gb")
    assert got["outcome"] == "refused", got
    assert "the limit is 4,000,000 cells" in got["detail"]
    assert got["peak_mb"] < 2048


@pytest.mark.usefixtures("engine")
def test_largest_accepted_area_is_made_within_2_gb() -> None:
    got = _run("largest_accepted")
    assert got["outcome"] == "made", got
    # The partnership's extent at 25 m: nearly the whole 4M-cell allowance, about 3.1M of them
    # touching the area (pi r^2 of a disc against its square).
    assert 2_500_000 < got["cells"] <= 4_000_000
    assert got["method"] == "etas_smooth" and got["boxes"] == 20
    assert got["peak_mb"] < 2048
