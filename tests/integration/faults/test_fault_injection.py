"""Faults: PostGIS restarts, Redis stops and a killed Celery worker, against real processes.

Each test works on the private stack of ``conftest.py`` (never the shared PostGIS or Redis),
breaks one dependency while real clients use the services, and checks the suite recovers by
itself: reads keep working where they can, a failure is a prompt 503 problem+json, every
accepted write is stored exactly once, and jobs take effect exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tests.conftest import ROOT
from tests.integration.faults.conftest import VENV_BIN, VISIBILITY_TIMEOUT_S, FaultStack
from tests.support import wait_for

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
            f"{st.urls['assets']}/cameras/{cam}/faults?duplicate=allow",
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
        wait_for(lambda: load.ok("write") >= 8 and load.ok("read") >= 8, 15, "load to run")
        up.pg.restart("fast")
        t_restarted = time.monotonic() - load.t0
        wait_for(lambda: load.ok("write", t_restarted) >= 5, 15, "writes after the restart")
        up.pg.stop("fast")
        t_down = time.monotonic() - load.t0
        for _ in range(3):
            down_ready.append(_readyz(base))
            time.sleep(0.5)
        # Before pg.start(): PostGIS may accept connections a moment before start() returns.
        t_starting = time.monotonic() - load.t0
        up.pg.start()
        t_up = time.monotonic() - load.t0
        wait_for(
            lambda: load.ok("write", t_up) >= 8 and load.ok("read", t_up) >= 8,
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
    in_outage = [
        c
        for c in calls
        if c.op != "health" and t_down + 0.2 < c.started and c.started + c.elapsed < t_starting
    ]
    assert in_outage and all(c.status == 503 for c in in_outage), [
        (c.op, c.started, c.elapsed, c.status) for c in in_outage if c.status != 503
    ][:5]

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
    assert len(accepted) >= 20
    # Each stored fault is whole: its opening event and audit entry were committed with it.
    partial = up.scalar(
        "SELECT count(*) FROM assets.faults f WHERE f.description LIKE 'fault-load-%' AND ("
        "NOT EXISTS (SELECT 1 FROM assets.fault_events e WHERE e.fault_id = f.id) OR "
        "NOT EXISTS (SELECT 1 FROM assets.audit_log a WHERE a.entity = 'fault' "
        "AND a.entity_id = f.id AND a.action = 'fault_logged'))"
    )
    assert partial == 0


def _fault_counts(stack: FaultStack, markers: list[str]) -> dict[str, int]:
    rows = stack.engine_rows(
        "SELECT description, count(*) FROM assets.faults "
        "WHERE description = ANY(:m) GROUP BY description",
        m=markers,
    )
    return {r[0]: int(r[1]) for r in rows}


# ------------------------------------------------------------------------------------------
# PostGIS restarted during an incident import
# ------------------------------------------------------------------------------------------

POLICE_HEADER = (
    "Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,LSOA name,"
    "Crime type,Last outcome category,Context\n"
)
CRIME_TYPES = ("Anti-social behaviour", "Violence and sexual offences", "Shoplifting")
# Rows of the file being imported when PostGIS restarts; CSP_FAULTS_IMPORT_ROWS=300000 for a
# heavier run (the default keeps the folder's time budget on a busy 2-core machine).
IMPORT_ROWS = int(os.environ.get("CSP_FAULTS_IMPORT_ROWS", "25000"))


def police_csv(path: Path, *, month: str, rows: int, seed: int) -> Path:
    """A data.police.uk street-level file of ``rows`` distinct crimes in Medway for ``month``."""
    rng = np.random.default_rng(seed)
    lon = 0.45 + rng.random(rows) * 0.2
    lat = 51.34 + rng.random(rows) * 0.08
    kind = rng.integers(0, len(CRIME_TYPES), rows)
    with open(path, "w", encoding="utf-8") as f:
        f.write(POLICE_HEADER)
        f.writelines(
            f"faults-{month}-{i:08d},{month},Kent Police,Kent Police,{lon[i]:.6f},{lat[i]:.6f},"
            f"On or near Test Street,E01016070,Medway 001A,{CRIME_TYPES[kind[i]]},,\n"
            for i in range(rows)
        )
    return path


def _csp_import(stack: FaultStack, *files: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """Start ``csp incidents import FILES --source police``; its output goes to a file (a pipe
    nobody reads while the test polls could fill up and stall it)."""
    cmd = [str(VENV_BIN / "csp"), "incidents", "import", *map(str, files), "--source", "police"]
    log = files[0].with_suffix(f".import-{uuid.uuid4().hex[:6]}.log")
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=stack.env, stdout=out, stderr=out)
    return proc, log


def _finish(proc: subprocess.Popen[bytes], log: Path, timeout_s: float) -> str:
    proc.wait(timeout=timeout_s)
    return log.read_text(errors="replace")


def _month_count(stack: FaultStack, month: str) -> int:
    return int(
        stack.scalar(
            "SELECT count(*) FROM incidents.incidents WHERE source = 'police' "
            "AND source_id LIKE :p",
            p=f"faults-{month}-%",
        )
    )


def test_postgis_restart_during_incident_import(up: FaultStack, tmp_path: Path) -> None:
    """A file committed before the restart stays; the one being written leaves nothing; a
    re-run of both adds exactly the missing rows."""
    n_a, n_b = 5_000, IMPORT_ROWS
    a = police_csv(tmp_path / "2031-01-kent-street.csv", month="2031-01", rows=n_a, seed=1)
    b = police_csv(tmp_path / "2031-02-kent-street.csv", month="2031-02", rows=n_b, seed=2)
    proc, log = _csp_import(up, a, b)
    # Restart once A is committed, while B's rows are being inserted (not while B is parsed).
    wait_for(
        lambda: proc.poll() is not None or (_month_count(up, "2031-01") == n_a and _inserting(up)),
        90,
        "the insert of file B",
        every_s=0.05,
    )
    assert proc.poll() is None, "the import ended before PostGIS could be restarted"
    up.pg.restart("fast")
    out = _finish(proc, log, 60)
    # The restart lands mid-INSERT, so the import fails; it may only complete if the restart
    # came after its COMMIT reached the server. Either way it must end cleanly.
    assert proc.returncode in (0, 1), out
    assert "Traceback" not in out, out
    if proc.returncode == 1:
        assert "error:" in out and "OperationalError" in out and b.name in out, out

    # Nothing half-written: B is all there or not at all, with or without its import record;
    # A, committed before the restart, is intact.
    b_rows = _month_count(up, "2031-02")
    b_records = up.scalar(
        "SELECT count(*) FROM incidents.imports WHERE file_name LIKE :f", f=f"%{b.name}"
    )
    assert (b_rows, b_records) in ((0, 0), (n_b, 1)), (b_rows, b_records, proc.returncode)
    assert proc.returncode == 1 or b_rows == n_b
    assert _month_count(up, "2031-01") == n_a

    # Re-running both files adds exactly what is missing and nothing twice.
    rerun, log = _csp_import(up, a, b)
    out = _finish(rerun, log, 120)
    assert rerun.returncode == 0, out
    assert _month_count(up, "2031-01") == n_a
    assert _month_count(up, "2031-02") == n_b
    added = up.engine_rows(
        "SELECT file_name, sum(rows_added), sum(rows_read) FROM incidents.imports "
        "WHERE file_name LIKE '%2031-0%' GROUP BY file_name"
    )
    runs_a = 2
    runs_b = 1 + (b_records or 0)
    assert {Path(f).name: (int(n), int(r)) for f, n, r in added} == {
        a.name: (n_a, runs_a * n_a),
        b.name: (n_b, runs_b * n_b),
    }


def _inserting(stack: FaultStack) -> bool:
    return bool(
        stack.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
            "AND query LIKE 'INSERT INTO incidents.incidents%'"
        )
    )


# ------------------------------------------------------------------------------------------
# Redis stopped
# ------------------------------------------------------------------------------------------

ASB = "Anti-social behaviour"
# Bounded promptness of a POST while the broker is down: a few publish retries, never a hang.
BROKER_DOWN_MAX_S = 5.0


def _surface_body(cell_m: float = 200.0) -> dict[str, Any]:
    return {"method": "exact", "radius_m": 400, "cell_m": cell_m, "categories": [ASB]}


def _runs_for_key(stack: FaultStack, key: str) -> list[tuple[Any, ...]]:
    """Runs stored under the analyst's Idempotency-Key ``key`` (keys are stored as digests)."""
    from shared.auth import Principal, hash_token
    from shared.idempotency import scoped_key

    clear = stack.tokens["analyst"]["Authorization"].removeprefix("Bearer ")
    tid, name, role = stack.engine_rows(
        "SELECT id, name, role FROM core.api_tokens WHERE token_hash = :h", h=hash_token(clear)
    )[0]
    actor = Principal(id=tid, name=name, role=role).actor
    return stack.engine_rows(
        "SELECT id, status FROM hotspots.surface_runs WHERE idempotency_key = :k",
        k=scoped_key(actor, key),
    )


def _wait_run(stack: FaultStack, run_id: int, timeout_s: float) -> dict[str, Any]:
    base, hdr = stack.urls["hotspots"], stack.tokens["analyst"]
    seen: dict[str, Any] = {}

    def finished() -> bool:
        seen.update(httpx.get(f"{base}/surfaces/{run_id}", headers=hdr, timeout=10).json())
        return seen.get("status") in ("done", "failed")

    wait_for(finished, timeout_s, f"surface run {run_id} to finish", every_s=0.25)
    return seen


def test_redis_stopped(up: FaultStack) -> None:
    """Reads carry on, readiness names the broker, a job POST is a prompt 503 and its retry
    with the same Idempotency-Key after Redis is back makes exactly one run."""
    hot, assets, pred = up.urls["hotspots"], up.urls["assets"], up.urls["predictive"]
    analyst = up.tokens["analyst"]
    key = f"faults-redis-{uuid.uuid4().hex}"
    headers = {**analyst, "Idempotency-Key": key}
    # Lists are made nightly or by POST (GETs only read): make today's police list first.
    made = httpx.post(f"{pred}/targets", json={"agency": "police"}, headers=analyst, timeout=60)
    assert made.status_code in (200, 201), made.text
    up.redis.stop()
    assert not up.redis.ping()

    # Reads that need only PostGIS keep working.
    assert httpx.get(f"{assets}/cameras", headers=up.tokens["operator"]).status_code == 200
    r = httpx.get(f"{pred}/targets", params={"agency": "police"}, headers=analyst, timeout=30)
    assert r.status_code == 200, r.text
    assert httpx.get(f"{hot}/surfaces", headers=analyst).status_code == 200

    # Readiness says what is down.
    for base in (hot, assets, pred):
        r = httpx.get(f"{base}/readyz", timeout=10)
        assert r.status_code == 503 and r.headers["content-type"].startswith(PROBLEM)
        body = r.json()
        assert body["checks"]["broker"]["ok"] is False and body["checks"]["database"]["ok"]
        assert "broker" in body["detail"]

    # A job cannot be queued: a prompt 503 problem+json, twice (the retry finds the same run).
    for _ in range(2):
        t = time.monotonic()
        r = httpx.post(f"{hot}/surfaces", json=_surface_body(), headers=headers, timeout=30)
        took = time.monotonic() - t
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith(PROBLEM) and "Traceback" not in r.text
        assert took < BROKER_DOWN_MAX_S, took
    runs = _runs_for_key(up, key)
    assert len(runs) == 1 and runs[0][1] == "queued", runs

    # Redis comes back (empty: nothing was queued); the same request now queues the one run.
    up.redis.up()
    wait_for(lambda: httpx.get(f"{hot}/readyz").status_code == 200, 10, "hotspots ready")
    r = httpx.post(f"{hot}/surfaces", json=_surface_body(), headers=headers, timeout=30)
    assert r.status_code == 202, r.text
    run_id = r.json()["id"]
    assert run_id == runs[0][0]
    done = _wait_run(up, run_id, 60)
    assert done["status"] == "done", done
    assert _runs_for_key(up, key) == [(run_id, "done")]
    # A further retry with the same key returns the finished run and queues nothing new.
    r = httpx.post(f"{hot}/surfaces", json=_surface_body(), headers=headers, timeout=30)
    assert r.status_code == 202 and r.json()["id"] == run_id and r.json()["status"] == "done"
    assert len(_runs_for_key(up, key)) == 1


# ------------------------------------------------------------------------------------------
# Celery worker killed mid-task
# ------------------------------------------------------------------------------------------

# A surface that keeps one worker busy for a few seconds (8,500 incidents, 20 m cells).
SLOW_SURFACE = {"method": "exact", "radius_m": 1000, "cell_m": 20}


def _start_slow_run(stack: FaultStack, key: str) -> int:
    r = httpx.post(
        f"{stack.urls['hotspots']}/surfaces",
        json=SLOW_SURFACE,
        headers={**stack.tokens["analyst"], "Idempotency-Key": key},
        timeout=30,
    )
    assert r.status_code == 202, r.text
    return int(r.json()["id"])


def _status(stack: FaultStack, run_id: int) -> str:
    return str(stack.scalar("SELECT status FROM hotspots.surface_runs WHERE id = :i", i=run_id))


def _assert_done_once(stack: FaultStack, run_id: int, key: str, killed_at: float) -> None:
    """One run for the key, done, with its polygons stored once and a readable surface."""
    run = _wait_run(stack, run_id, 90)
    assert run["status"] == "done", run
    assert _runs_for_key(stack, key) == [(run_id, "done")]
    # The run was computed again after the kill (its start time moved past it).
    started = datetime.fromisoformat(run["started_at"]).timestamp()
    assert started > killed_at, (run["started_at"], killed_at)
    n_poly = stack.scalar(
        "SELECT count(*) FROM hotspots.hotspot_polygons WHERE run_id = :i", i=run_id
    )
    distinct = stack.scalar(
        "SELECT count(DISTINCT ST_AsBinary(geom)) FROM hotspots.hotspot_polygons WHERE run_id = :i",
        i=run_id,
    )
    assert n_poly == distinct == run["stats"]["hotspots"] >= 1
    total = stack.scalar("SELECT count(*) FROM incidents.incidents WHERE source = 'police'")
    assert run["stats"]["incidents"] == total
    tif = httpx.get(
        f"{stack.urls['hotspots']}/surfaces/{run_id}.tif",
        headers=stack.tokens["analyst"],
        timeout=30,
    )
    assert tif.status_code == 200 and tif.content[:2] in (b"II", b"MM")


def test_pool_process_killed_mid_task(up: FaultStack) -> None:
    """SIGKILL of the process running the task: the worker requeues it and it runs again."""
    key = f"faults-child-{uuid.uuid4().hex}"
    run_id = _start_slow_run(up, key)
    children = up.worker.children()
    assert len(children) == 1, children
    wait_for(lambda: _status(up, run_id) == "running", 30, "the run to start", every_s=0.02)
    killed_at = time.time()
    os.kill(children[0], signal.SIGKILL)
    assert _status(up, run_id) == "running", "the surface finished before the kill"
    _assert_done_once(up, run_id, key, killed_at)
    assert up.worker.alive()
    assert "WorkerLostError" in up.worker.log_text() or "SIGKILL" in up.worker.log_text()


def test_worker_killed_mid_task(up: FaultStack) -> None:
    """SIGKILL of the whole worker: a new worker gets the unacknowledged task once the broker's
    visibility timeout passes, and the run ends done exactly once."""
    key = f"faults-worker-{uuid.uuid4().hex}"
    run_id = _start_slow_run(up, key)
    wait_for(lambda: _status(up, run_id) == "running", 30, "the run to start", every_s=0.02)
    delivered_by = time.monotonic()
    killed_at = time.time()
    up.worker.kill(signal.SIGKILL)
    assert not up.worker.alive()
    assert _status(up, run_id) == "running", "the surface finished before the kill"
    # Nobody finishes it while no worker runs: the work in flight was really lost.
    time.sleep(max(0.0, delivered_by + VISIBILITY_TIMEOUT_S - time.monotonic()))
    assert _status(up, run_id) == "running"
    # A worker sweeps for expired unacknowledged messages as it starts (then only every
    # ~100 s), so it starts once the message's visibility timeout has passed.
    up.start_worker()
    _assert_done_once(up, run_id, key, killed_at)


def test_postgis_outage_during_surface_task(up: FaultStack) -> None:
    """PostGIS down for 2 s while a run computes: the task retries and the run ends done once
    (before the fix it stayed "running" for ever and its key could not start it again)."""
    key = f"faults-pgtask-{uuid.uuid4().hex}"
    run_id = _start_slow_run(up, key)
    wait_for(lambda: _status(up, run_id) == "running", 30, "the run to start", every_s=0.02)
    up.pg.stop("fast")
    outage_at = time.time()
    time.sleep(2.0)
    up.pg.start()
    _assert_done_once(up, run_id, key, outage_at)
