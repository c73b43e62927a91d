"""Faults: PostGIS restarts, Redis stops and a killed Celery worker, against real processes.

Each test works on the private stack of ``conftest.py`` (never the shared PostGIS or Redis),
breaks one dependency while real clients use the services, and checks the suite recovers by
itself: reads keep working where they can, a failure is a prompt 503 problem+json, every
accepted write is stored exactly once, and jobs take effect exactly once.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.integration.faults.conftest import FaultStack, wait_for

PROBLEM = "application/problem+json"
# A request may wait for one failed connect (connect_timeout 3 s) plus its work; never a hang.
MAX_REQUEST_S = 8.0


@dataclass
class Call:
    """One HTTP call made under load and what came back."""

    op: str
    started: float
    elapsed: float
    status: int | None
    content_type: str
    body: str
    headers: dict[str, str]
    marker: str | None = None
    error: str | None = None


def _call(client: httpx.Client, op: str, method: str, url: str, t0: float, **kw: Any) -> Call:
    marker = kw.pop("marker", None)
    start = time.monotonic()
    try:
        r = client.request(method, url, **kw)
    except httpx.HTTPError as exc:
        return Call(
            op,
            start - t0,
            time.monotonic() - start,
            None,
            "",
            "",
            {},
            marker,
            f"{type(exc).__name__}: {exc}",
        )
    return Call(
        op,
        start - t0,
        time.monotonic() - start,
        r.status_code,
        r.headers.get("content-type", ""),
        r.text,
        dict(r.headers),
        marker,
    )


def _assert_problem_503(c: Call) -> None:
    """A failed call must be a 503 problem+json with Retry-After that leaks no internals."""
    assert c.status == 503, (c.op, c.status, c.body[:500])
    assert c.content_type.startswith(PROBLEM), (c.op, c.content_type)
    assert "retry-after" in c.headers, (c.op, c.headers)
    assert "Traceback" not in c.body and "psycopg2" not in c.body, c.body[:500]


class Load:
    """Threads calling the assets service in a loop until stopped, recording every call."""

    def __init__(self, stack: FaultStack, threads: int = 8) -> None:
        self.stack, self.n = stack, threads
        self.calls: list[Call] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.workers = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, i: int) -> None:
        st = self.stack
        base = st.urls["assets"]
        ops: list[Callable[[httpx.Client], Call]] = [
            lambda c: _call(
                c, "read", "GET", f"{base}/cameras?limit=20", self.t0, headers=st.tokens["operator"]
            ),
            lambda c: _call(c, "health", "GET", f"{base}/healthz", self.t0),
            self._write,
        ]
        k = i
        with httpx.Client(timeout=20) as client:
            while not self.stop.is_set():
                call = ops[k % len(ops)](client)
                k += 1
                with self.lock:
                    self.calls.append(call)

    def _write(self, client: httpx.Client) -> Call:
        st = self.stack
        marker = f"fault-load-{uuid.uuid4().hex}"
        cam = st.camera_ids[hash(marker) % len(st.camera_ids)]
        return _call(
            client,
            "write",
            "POST",
            f"{st.urls['assets']}/cameras/{cam}/faults",
            self.t0,
            headers=st.tokens["operator"],
            marker=marker,
            json={"category": "no_picture", "description": marker},
        )

    def __enter__(self) -> Load:
        for w in self.workers:
            w.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for w in self.workers:
            w.join(timeout=60)

    def ok(self, op: str, since: float = 0.0) -> int:
        """How many ``op`` calls started after ``since`` got a 2xx."""
        with self.lock:
            return sum(
                1
                for c in self.calls
                if c.op == op
                and c.started >= since
                and c.status is not None
                and 200 <= c.status < 300
            )


def _readyz(base: str) -> httpx.Response:
    return httpx.get(f"{base}/readyz", timeout=10)


def test_postgis_restart_under_api_load(up: FaultStack) -> None:
    """Reads and fault writes under load through a fast restart and a 2 s outage of PostGIS."""
    base = up.urls["assets"]
    pid_before = up.services["assets"].pid
    down_ready: list[httpx.Response] = []
    with Load(up) as load:
        wait_for(lambda: load.ok("write") >= 10 and load.ok("read") >= 10, 15, "load to run")
        up.pg.restart("fast")
        t_restarted = time.monotonic() - load.t0
        wait_for(lambda: load.ok("write", t_restarted) >= 5, 15, "writes after the restart")
        up.pg.stop("fast")
        t_down = time.monotonic() - load.t0
        for _ in range(3):
            down_ready.append(_readyz(base))
            time.sleep(0.5)
        up.pg.start()
        t_up = time.monotonic() - load.t0
        wait_for(
            lambda: load.ok("write", t_up) >= 10 and load.ok("read", t_up) >= 10,
            20,
            "reads and writes to succeed again without restarting the service",
        )
    calls = load.calls

    # Nothing hung, nothing crashed: each call is a 2xx or a prompt 503 problem+json.
    errors = [c for c in calls if c.error]
    assert not errors, errors[:5]
    slow = [c for c in calls if c.elapsed > MAX_REQUEST_S]
    assert not slow, [(c.op, c.elapsed, c.status) for c in slow[:5]]
    failed = [c for c in calls if not (200 <= (c.status or 0) < 300)]
    for c in failed:
        _assert_problem_503(c)
    assert all(c.status == 200 for c in calls if c.op == "health")
    # The outage really hit the load: calls started while PostGIS was down failed.
    in_outage = [c for c in calls if t_down + 0.2 < c.started < t_up - 0.2 and c.op != "health"]
    assert in_outage and all(c.status == 503 for c in in_outage)

    # Readiness follows the database; the same process serves again (no restart needed).
    for r in down_ready:
        assert r.status_code == 503 and r.headers["content-type"].startswith(PROBLEM)
        assert r.json()["checks"]["database"]["ok"] is False
        assert "database" in r.json()["detail"]
    assert _readyz(base).status_code == 200
    assert up.services["assets"].alive() and up.services["assets"].pid == pid_before

    # Every accepted write is stored exactly once; a failed one at most once (never twice).
    writes = [c for c in calls if c.op == "write"]
    counts = _fault_counts(up, [c.marker for c in writes if c.marker])
    accepted = [c for c in writes if c.status == 201]
    assert all(counts.get(c.marker or "", 0) == 1 for c in accepted), "accepted write lost"
    assert all(counts.get(c.marker or "", 0) <= 1 for c in writes)
    assert len(accepted) >= 25
    # Each stored fault is whole: its opening event and audit entry were committed with it.
    assert (
        up.scalar(
            "SELECT count(*) FROM assets.faults f WHERE f.description LIKE 'fault-load-%' AND NOT "
            "EXISTS (SELECT 1 FROM assets.fault_events e WHERE e.fault_id = f.id)"
        )
        == 0
    )


def _fault_counts(stack: FaultStack, markers: list[str]) -> dict[str, int]:
    from sqlalchemy import text

    eng = stack.engine()
    try:
        with eng.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT description, count(*) FROM assets.faults "
                    "WHERE description = ANY(:m) GROUP BY description"
                ),
                {"m": markers},
            )
            return {r[0]: int(r[1]) for r in rows}
    finally:
        eng.dispose()
