"""50 concurrent POSTs with one Idempotency-Key against a real server with the real pool.

The assets service runs under uvicorn in a thread with the engine its lifespan makes (the
production pool size), so a repeat that holds a pooled connection while it waits shows up as
an unrelated ``GET /cameras`` stuck behind it, as it did in the outside test (28.6 s, then 503).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.factories import delete_cameras, make_camera
from tests.support import service_app, serving

REPEATS = 50


@pytest.fixture()
def server(engine: Any) -> Iterator[tuple[str, dict[str, str], int]]:
    """The assets app under uvicorn on the test database; an operator token and a camera."""
    from shared.auth import create_token
    from shared.db import make_engine, make_sessionmaker
    from tests.conftest import TEST_DB

    setup = make_engine(TEST_DB, pool_size=2)
    with make_sessionmaker(setup)() as s:
        token, clear = create_token(s, name="load test", role="operator")
        cam = make_camera(s, name="Load camera", asset_tag="LOAD-1", actor="setup")
        s.commit()
        token_id, cam_id = token.id, cam.id
    try:
        with serving(service_app("assets", TEST_DB), timeout_s=10) as url:
            yield url, {"Authorization": f"Bearer {clear}"}, cam_id
    finally:
        with setup.begin() as conn:
            delete_cameras(conn, [cam_id])
            conn.execute(text("DELETE FROM core.api_tokens WHERE id=:t"), {"t": token_id})
        setup.dispose()


@pytest.mark.parametrize("path", ["faults", "footage-requests"])
def test_fifty_repeats_of_one_key_leave_the_service_responsive(
    server: tuple[str, dict[str, str], int], path: str, engine: Any
) -> None:
    base, who, cam = server
    body = (
        {"category": "no_picture", "description": "Screen dark"}
        if path == "faults"
        else {"requested_on": "2024-05-02", "reference": "KENT/9"}
    )
    headers = {**who, "Idempotency-Key": f"load-{path}"}
    gate = threading.Barrier(REPEATS + 1)

    def post(_: int) -> httpx.Response:
        with httpx.Client(base_url=base, timeout=60) as c:
            gate.wait()
            return c.post(f"/cameras/{cam}/{path}", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=REPEATS) as pool:
        futures = [pool.submit(post, i) for i in range(REPEATS)]
        gate.wait()
        time.sleep(0.2)
        t0 = time.monotonic()
        with httpx.Client(base_url=base, timeout=60) as c:
            probe = c.get("/cameras", headers=who)
        probe_s = time.monotonic() - t0
        answers = [f.result() for f in futures]
    assert probe.status_code == 200, probe.text
    statuses = sorted(r.status_code for r in answers)
    assert probe_s < 2.0, f"GET /cameras took {probe_s:.1f} s behind the repeats"
    assert statuses.count(201) == 1
    assert set(statuses) <= {200, 201, 409}, [r.text for r in answers if r.status_code >= 500]
    table = path.replace("-", "_")
    with engine.connect() as conn:
        n = conn.execute(
            text(f"SELECT count(*) FROM assets.{table} WHERE camera_id=:c"), {"c": cam}
        ).scalar_one()
    assert n == 1
