"""Load test of the running suite (locust), then our OGC cameras endpoint against pygeoapi.

Run: PYTHONPATH=. .venv/bin/python bench/bench_load.py [--duration 300] [--users 50]
     [--no-compare] [--scratch-cameras 2000]   (needs the suite up: `make demo`)

1. The mix (locust, loopback only, bounded by ``--duration``): 50 people, 0.5-2 s between
   actions, control room 1 : crews 3 : analysts 2 : camera viewers 2. The control room logs,
   moves and closes faults; crews pull their daily list (GeoJSON, CSV, the page); analysts list
   surfaces and read hotspots, road and water sites; viewers read cameras by bbox (REST, public
   and OGC). Prints throughput, p50, p99, errors and 5xx per request and per group, and the
   server CPU per request (services plus their PostgreSQL backends).
2. OGC API - Features cameras ``items`` against pygeoapi serving the same table on the same
   machine in the same run (10 users, no think time, alternating 30 s slices), on the suite's
   table and on a scratch database of ``--scratch-cameras`` synthetic cameras; the answers are
   compared feature by feature before anything is timed.

Measured on the 2-core dev box, 2026-11-30 (a helper's tests running alongside):

| mix, 300 s, 50 users | requests | req/s | p50 ms | p99 ms | errors | 5xx |
|---|---|---|---|---|---|---|
| control room (fault writes) | 1,418 | 4.8 | 8.7 | 17.8 | 0 | 0 |
| crews (daily lists) | 4,492 | 15.2 | 5.5 | 19.0 | 0 | 0 |
| analysts (hotspots) | 3,039 | 10.3 | 4.3 | 9.7 | 0 | 0 |
| camera viewers | 2,828 | 9.6 | 5.1 | 11.3 | 0 | 0 |
| overall | 11,777 | 39.8 | 5.3 | 16.9 | 0 | 0 |

Server CPU 5.6 ms per request of the mix (about 179 req/s per free core).

| OGC cameras items, limit 100 | req/s | p50 ms | p99 ms | CPU ms/req |
|---|---|---|---|---|
| ours, suite table (10 cameras) | 318.0 | 27.2 | 143.2 | 3.2 |
| pygeoapi 0.21, same table | 26.3 | 385.7 | 419.4 | 38.4 |
| ours, 2,000 cameras | 278.9 | 31.1 | 142.9 | 3.7 |
| pygeoapi, 2,000 cameras | 26.4 | 382.9 | 440.9 | 38.3 |
| pygeoapi, 2,000 cameras, CRS84 view | 47.4 | 209.3 | 251.4 | 20.3 |

Ours vs pygeoapi: 12.1x the throughput on the suite's table, 10.6x on 2,000 cameras, 5.9x
against pygeoapi's best case (a view reprojecting in SQL); 10-12x less server CPU per request.
Both run one process (uvicorn; gunicorn with one sync worker).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / ".run"
OUT = RUN / "bench"
VENV_BIN = ROOT / ".venv" / "bin"
PYGEOAPI_VENV = OUT / "pygeoapi-venv"
PYGEOAPI_PACKAGES = ("pygeoapi", "psycopg2-binary", "SQLAlchemy", "GeoAlchemy2", "gunicorn")
LOAD_CLASSES = ("ControlRoom", "Crew", "Analyst", "CameraViewer")
GROUPS = ("control-room", "crew", "analyst", "cameras")
ROLES = ("operator", "crew", "analyst")
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BNG_URI = "http://www.opengis.net/def/crs/EPSG/0/27700"
CRS84_VIEW = "cameras_crs84"  # scratch database only: the public cameras reprojected in SQL
# The public fields our OGC endpoint publishes (services/assets/ogc.py PUBLIC_COLUMNS).
PUBLIC_FIELDS = (
    "asset_tag", "name", "ward", "ward_code", "purpose", "technology", "deployment",
    "lifecycle", "health", "bearing_deg", "fov_deg", "range_m",
)  # fmt: skip
VERSION_SNIPPET = "import pygeoapi; print(pygeoapi.__version__)"
FAULTABLE = ("approved", "active", "under_review", "in_store", "decommissioning")


def parse_duration(raw: str) -> float:
    """Seconds from ``300``, ``300s``, ``5m`` or ``1h``."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", raw)
    if not m:
        raise argparse.ArgumentTypeError(f"duration like 300, 30s, 5m or 1h, not {raw!r}")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


# --- talking to the suite ---------------------------------------------------------------------


def http(
    url: str,
    *,
    token: str | None = None,
    method: str = "GET",
    body: dict[str, Any] | None = None,
    timeout: float = 30.0,
) -> tuple[int, bytes]:
    """One request: (status, body); connection problems raise OSError."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - loopback
            return int(resp.status), resp.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def get_json(url: str, token: str | None = None) -> Any:
    """GET a JSON document; a non-200 answer raises RuntimeError."""
    status, raw = http(url, token=token)
    if status != 200:
        raise RuntimeError(f"GET {url} -> {status}: {raw[:200]!r}")
    return json.loads(raw)


def unreachable(urls: dict[str, str]) -> list[str]:
    """The services whose /healthz does not answer 200."""
    down = []
    for name, base in urls.items():
        try:
            status, _ = http(f"{base}/healthz", timeout=3)
        except OSError:
            status = 0
        if status != 200:
            down.append(f"{name} ({base})")
    return down


def csp(*args: str) -> str:
    """Run the ``csp`` command line and return its stdout."""
    res = subprocess.run(
        [str(VENV_BIN / "csp"), *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if res.returncode != 0:
        raise RuntimeError(f"csp {' '.join(args)} failed: {res.stderr.strip() or res.stdout}")
    return res.stdout


def create_tokens(stamp: str) -> dict[str, str]:
    """One token per role, named ``bench-load-<stamp>-<role>``; the clear token is the last line."""
    tokens = {}
    for role in ROLES:
        out = csp("token", "create", "--role", role, "--name", f"bench-load-{stamp}-{role}")
        tokens[role] = out.strip().splitlines()[-1].strip()
    return tokens


def revoke_tokens(stamp: str) -> None:
    """Revoke the tokens made by ``create_tokens``."""
    for role in ROLES:
        try:
            csp("token", "revoke", "--name", f"bench-load-{stamp}-{role}")
        except RuntimeError as exc:
            print(f"warning: {exc}")


def latest_list_date(database_url: str) -> str | None:
    """The latest daily list date that has boxes (the demo data ends years before today)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            day = conn.execute(
                text(
                    "SELECT max(l.list_date) FROM predictive.target_lists l WHERE EXISTS "
                    "(SELECT 1 FROM predictive.target_boxes b WHERE b.list_id = l.id)"
                )
            ).scalar()
    finally:
        engine.dispose()
    return None if day is None else day.isoformat()


def make_bboxes(
    lons: Sequence[float], lats: Sequence[float], n: int = 24, seed: int = 6
) -> list[list[float]]:
    """``n`` lon/lat boxes over the cameras: 350 m to 4 km wide, plus their whole extent."""
    rng = random.Random(seed)
    x0, x1, y0, y1 = min(lons), max(lons), min(lats), max(lats)
    pad_x, pad_y = max(0.01, 0.2 * (x1 - x0)), max(0.01, 0.2 * (y1 - y0))
    boxes = [[x0 - 1e-4, y0 - 1e-4, x1 + 1e-4, y1 + 1e-4]]
    while len(boxes) < n:
        cx, cy = rng.uniform(x0 - pad_x, x1 + pad_x), rng.uniform(y0 - pad_y, y1 + pad_y)
        hw = rng.uniform(0.0025, 0.03)  # degrees of longitude; about 175 m to 2 km at 51.4 N
        hh = hw * math.cos(math.radians(cy))
        boxes.append([round(v, 6) for v in (cx - hw, cy - hh, cx + hw, cy + hh)])
    return boxes


@dataclass
class Targets:
    """What the users act on: cameras, bboxes, surface runs, list date."""

    camera_ids: list[int]
    bboxes: list[list[float]]
    surface_ids: list[int]
    list_date: str | None
    n_cameras: int


def discover(urls: dict[str, str], tokens: dict[str, str], list_date: str | None) -> Targets:
    """Read camera ids and positions, finished surface runs and the list date from the suite."""
    page = get_json(f"{urls['assets']}/cameras?limit=1000", tokens["analyst"])
    cams = page["items"]
    if not cams:
        raise RuntimeError("no cameras in the register: run `make demo` to load the demo data")
    faultable = [int(c["id"]) for c in cams if c["lifecycle"] in FAULTABLE]
    runs = get_json(f"{urls['hotspots']}/surfaces?limit=500", tokens["analyst"])["items"]
    surface_ids = [int(r["id"]) for r in runs if r.get("status") in ("done", "succeeded")]
    if list_date == "today":
        list_date = None  # no date parameter: the service's today in Medway
    elif list_date is None:
        from shared.settings import CommonSettings

        list_date = latest_list_date(CommonSettings().database_url)
    return Targets(
        camera_ids=faultable,
        bboxes=make_bboxes([c["lon"] for c in cams], [c["lat"] for c in cams]),
        surface_ids=surface_ids or [int(r["id"]) for r in runs],
        list_date=list_date,
        n_cameras=int(page["total"]),
    )


def close_left_open(urls: dict[str, str], token: str, fault_ids: Iterable[int], marker: str) -> int:
    """Close the faults this run opened and did not close (a user stopped mid-task)."""
    n = 0
    for fid in fault_ids:
        status, _ = http(
            f"{urls['assets']}/faults/{fid}",
            token=token,
            method="PATCH",
            body={"status": "closed", "note": f"{marker}: closed after the run"},
        )
        n += status == 200
    return n


# --- CPU accounting ---------------------------------------------------------------------------


def _tree_cpu(pid: int) -> float:
    """User + system CPU seconds of a process and its live children (0 if it is gone)."""
    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def _postgres_cpu(databases: frozenset[str]) -> dict[int, float]:
    """CPU seconds by pid of the PostgreSQL backends serving ``databases`` (not other jobs')."""
    out = {}
    for p in psutil.process_iter(["name", "cmdline", "cpu_times"]):
        if p.info["name"] != "postgres" or p.info["cpu_times"] is None:
            continue
        title = " ".join(p.info["cmdline"] or []).split()  # postgres: user database host ...
        if len(title) >= 3 and title[0] == "postgres:" and title[2] in databases:
            out[p.pid] = p.info["cpu_times"].user + p.info["cpu_times"].system
    return out


def service_pids() -> dict[str, int]:
    """Pids of the services ``make demo`` started (from .run/pids)."""
    pids = {}
    for name in ("assets", "hotspots", "predictive"):
        f = RUN / "pids" / f"{name}.pid"
        if f.exists():
            pids[name] = int(f.read_text().strip())
    return pids


def uvicorn_workers(pid: int | None) -> int:
    """Worker processes of our service (``csp serve --workers N``; 1 by default, as stack.sh)."""
    if pid is None:
        return 1
    try:
        args = psutil.Process(pid).cmdline()
    except psutil.Error:
        return 1
    for i, a in enumerate(args):
        if a == "--workers" and i + 1 < len(args):
            return int(args[i + 1])
        if a.startswith("--workers="):
            return int(a.split("=", 1)[1])
    return 1


@dataclass
class CpuMeter:
    """CPU seconds used during a phase by the client, each service, PostgreSQL and the machine."""

    pids: dict[str, int]
    databases: frozenset[str] = frozenset({"csp"})
    start: dict[str, float] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)
    wall: float = 0.0
    pg_start: dict[int, float] = field(default_factory=dict)

    def _snapshot(self) -> dict[str, float]:
        snap = {name: _tree_cpu(pid) for name, pid in self.pids.items()}
        # locust has exited (and been reaped) by the second snapshot: count it as a child.
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        snap["locust"] = kids.ru_utime + kids.ru_stime
        t = psutil.cpu_times()
        snap["machine"] = sum(t) - t.idle - getattr(t, "iowait", 0.0)
        snap["wall"] = time.monotonic()
        return snap

    def begin(self) -> None:
        """Take the first snapshot."""
        self.start = self._snapshot()
        self.pg_start = _postgres_cpu(self.databases)

    def end(self) -> None:
        """Take the second snapshot and keep the differences."""
        stop = self._snapshot()
        self.wall = stop.pop("wall") - self.start["wall"]
        self.used = {k: v - self.start.get(k, 0.0) for k, v in stop.items()}
        pg = _postgres_cpu(self.databases)  # backends that ended meanwhile are missed
        self.used["postgres"] = sum(v - self.pg_start.get(pid, 0.0) for pid, v in pg.items())

    def plus(self, other: CpuMeter) -> CpuMeter:
        """The sum of two phases' CPU use (same parts)."""
        used = {k: v + other.used.get(k, 0.0) for k, v in self.used.items()}
        return CpuMeter(self.pids, self.databases, used=used, wall=self.wall + other.wall)

    def server_seconds(self) -> float:
        """CPU seconds of the measured servers and their PostgreSQL backends."""
        return sum(self.used.get(k, 0.0) for k in (*self.pids, "postgres"))

    def line(self) -> str:
        """One line: share of one core per part, machine busy out of all cores."""
        cores = psutil.cpu_count() or 1
        mine = {k: v for k, v in self.used.items() if k != "machine"}
        machine = self.used.get("machine", 0.0)
        mine["other processes"] = max(0.0, machine - sum(mine.values()))
        parts = [
            f"{k} {100 * v / self.wall:.0f}%" for k, v in mine.items() if v >= 0.005 * self.wall
        ]
        busy = 100 * machine / (self.wall * cores)
        return f"CPU (% of one core): {', '.join(parts)}; machine busy {busy:.0f}% of {cores} cores"


# --- running locust ---------------------------------------------------------------------------


@dataclass
class Run:
    """Samples of one locust run and its measuring window."""

    samples: list[tuple[float, str, float, bool, int]]
    window: tuple[float, float]
    open_faults: list[int]
    cpu: CpuMeter
    returncode: int


def run_locust(
    config: dict[str, Any],
    classes: Sequence[str],
    *,
    users: int,
    spawn_rate: float,
    duration_s: float,
    tag: str,
    pids: dict[str, int],
    databases: frozenset[str] = frozenset({"csp"}),
) -> Run:
    """Run locust headless as a subprocess with ``classes`` and return its samples."""
    OUT.mkdir(parents=True, exist_ok=True)
    cfg_path = OUT / f"{tag}-config.json"
    samples_path = OUT / f"{tag}-samples.json"
    samples_path.unlink(missing_ok=True)
    cfg_path.write_text(json.dumps({**config, "samples": str(samples_path)}))
    cfg_path.chmod(0o600)  # it holds the bench tokens until they are revoked
    cmd = [
        str(VENV_BIN / "locust"),
        "-f", str(ROOT / "bench" / "locustfile.py"),
        "--headless", "--only-summary",
        "-u", str(users), "-r", str(spawn_rate), "-t", f"{int(round(duration_s))}s",
        "--stop-timeout", "20",
        "--csv", str(OUT / tag),
        "--loglevel", "WARNING",
        *classes,
    ]  # fmt: skip
    env = dict(os.environ, BENCH_LOAD_CONFIG=str(cfg_path))
    log = (OUT / f"{tag}-locust.log").open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    meter = CpuMeter(pids, databases)
    meter.begin()
    try:
        rc = proc.wait(timeout=duration_s + 120)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
    meter.end()
    log.close()
    cfg_path.unlink(missing_ok=True)
    if not samples_path.exists():
        tail = (OUT / f"{tag}-locust.log").read_text()[-2000:]
        raise RuntimeError(f"locust wrote no samples (exit {rc}); its log ends:\n{tail}")
    data = json.loads(samples_path.read_text())
    times = data["times"]
    start = float(times.get("spawned", times.get("test_start", 0.0)))
    end = float(times.get("test_start", start)) + duration_s
    samples = [(float(a), str(b), float(c), bool(d), int(e)) for a, b, c, d, e in data["samples"]]
    return Run(samples, (start, end), list(data.get("open_faults", [])), meter, rc)


# --- figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """Requests, throughput, median and 99th percentile latency, errors (and how many 5xx)."""

    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_errors: int


def figures(rows: Sequence[tuple[float, str, float, bool, int]], seconds: float) -> Figures:
    """Figures of some samples over a window of ``seconds``."""
    if not rows:
        return Figures(0, 0.0, math.nan, math.nan, 0, 0)
    ms = np.array([r[2] for r in rows])
    return Figures(
        requests=len(rows),
        rps=len(rows) / seconds,
        p50_ms=float(np.percentile(ms, 50)),
        p99_ms=float(np.percentile(ms, 99)),
        errors=sum(not r[3] for r in rows),
        server_errors=sum(r[4] >= 500 for r in rows),
    )


def in_window(run: Run) -> list[tuple[float, str, float, bool, int]]:
    """Samples that started inside the steady window (after the ramp, before the stop)."""
    a, b = run.window
    return [s for s in run.samples if a <= s[0] < b]


HEADER = (
    f"{'':52} {'requests':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'5xx':>5}"
)


def fmt(label: str, f: Figures) -> str:
    """One table row."""
    return (
        f"{label:52} {f.requests:9d} {f.rps:8.1f} {f.p50_ms:8.1f} {f.p99_ms:8.1f} "
        f"{f.errors:7d} {f.server_errors:5d}"
    )


def print_load_table(rows: list[tuple[float, str, float, bool, int]], seconds: float) -> None:
    """Per endpoint within each group, then per group, then overall."""
    print(HEADER)
    for group in GROUPS:
        grows = [r for r in rows if r[1].split(" ", 1)[0] == group]
        names = sorted({r[1] for r in grows})
        for name in names:
            print(
                fmt(
                    "  " + name.split(" ", 1)[1],
                    figures([r for r in grows if r[1] == name], seconds),
                )
            )
        print(fmt(f"{group} (all)", figures(grows, seconds)))
    print(fmt("OVERALL", figures(rows, seconds)))


def server_error_lines(rows: Sequence[tuple[float, str, float, bool, int]], since: float) -> None:
    """For endpoints that answered 5xx, print each distinct ERROR logged since ``since``."""
    failing = sorted({r[1] for r in rows if r[4] >= 500})
    if not failing:
        return
    print("\n5xx answers (see .run/logs):")
    for name in failing:
        count = sum(1 for r in rows if r[1] == name and r[4] >= 500)
        print(f"  {name}: {count} x 5xx")
    after = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    for svc in ("assets", "hotspots", "predictive"):
        log = RUN / "logs" / f"{svc}.log"
        if not log.exists():
            continue
        seen: dict[str, int] = {}
        for line in log.read_text(errors="replace").splitlines()[-20000:]:
            if '"level": "ERROR"' not in line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if str(rec.get("ts", "")) < after:
                continue
            last = (rec.get("exc") or "").strip().splitlines()[-1:] or [""]
            key = f"{rec.get('msg')} | {last[0]}"
            if key not in seen:
                print(
                    f"  {svc}.log {rec.get('ts')} request_id {rec.get('request_id')}: {key[:300]}"
                )
            seen[key] = seen.get(key, 0) + 1
        for key, n in seen.items():
            print(f"  {svc}.log: {n} x {key[:80]}")


# --- pygeoapi ---------------------------------------------------------------------------------


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure_pygeoapi() -> Path:
    """The pygeoapi venv under .run/bench (made and filled from PyPI on first use)."""
    py = PYGEOAPI_VENV / "bin" / "python"
    if (PYGEOAPI_VENV / "bin" / "pygeoapi").exists() and (
        PYGEOAPI_VENV / "bin" / "gunicorn"
    ).exists():
        return PYGEOAPI_VENV / "bin"
    base = shutil.which("python3.11") or sys.executable
    print(f"installing pygeoapi into {PYGEOAPI_VENV.relative_to(ROOT)} (first run only)")
    subprocess.run([base, "-m", "venv", str(PYGEOAPI_VENV)], check=True)
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    res = subprocess.run([*pip, *PYGEOAPI_PACKAGES], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError("pip install pygeoapi failed: " + res.stderr.strip()[-500:])
    return PYGEOAPI_VENV / "bin"


def pygeoapi_config(port: int, database_url: str, page: int, view: bool) -> dict[str, Any]:
    """pygeoapi publishing assets.cameras (EPSG:27700; public fields) and maybe the CRS84 view."""
    from sqlalchemy.engine import make_url

    db = make_url(database_url)
    provider = {
        "type": "feature",
        "name": "PostgreSQL",
        "data": {
            "host": db.host or "127.0.0.1",
            "port": db.port or 5432,
            "dbname": db.database,
            "user": db.username,
            "password": db.password,
            "search_path": ["assets", "public"],
        },
        "id_field": "id",
        "table": "cameras",
        "geom_field": "geom",
        "storage_crs": BNG_URI,
        "crs": [CRS84, BNG_URI],
        "properties": list(PUBLIC_FIELDS),
    }
    resource = {
        "type": "collection",
        "title": "cameras",
        "description": "assets.cameras",
        "keywords": ["CCTV"],
        "extents": {"spatial": {"bbox": [0.3, 51.3, 0.8, 51.5], "crs": CRS84}},
        "providers": [provider],
    }
    resources = {"cameras": resource}
    if view:
        crs84 = {k: v for k, v in provider.items() if k not in ("storage_crs", "crs")}
        resources[CRS84_VIEW] = {**resource, "providers": [{**crs84, "table": CRS84_VIEW}]}
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "language": "en-GB",
            "limits": {"default_items": page, "max_items": 1000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OSM"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "CSP bench: assets.cameras",
                "description": "pygeoapi serving the suite's camera table for bench_load.py",
                "keywords": ["CCTV"],
                "keywords_type": "theme",
                "terms_of_service": "https://example.org",
                "url": "https://example.org",
            },
            "license": {"name": "OGL-UK-3.0", "url": "https://example.org"},
            "provider": {"name": "bench", "url": "https://example.org"},
            "contact": {
                "name": "bench",
                "email": "bench@example.org",
                "url": "https://example.org",
            },
        },
        "resources": resources,
    }


@dataclass
class Pygeoapi:
    """A pygeoapi started by this script (gunicorn, own process group) and how to stop it."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        """Stop the gunicorn master and its worker (only what this script started)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


def start_pygeoapi(
    database_url: str, workers: int, threads: int, page: int, view: bool = False
) -> Pygeoapi:
    """Write the config to .run/bench, generate its OpenAPI document and start gunicorn."""
    bin_ = ensure_pygeoapi()
    port = free_port()
    cfg, oas = OUT / "pygeoapi-config.yml", OUT / "pygeoapi-openapi.yml"
    cfg.write_text(
        json.dumps(pygeoapi_config(port, database_url, page, view), indent=1)
    )  # JSON is YAML
    cfg.chmod(0o600)
    env = dict(os.environ, PYGEOAPI_CONFIG=str(cfg), PYGEOAPI_OPENAPI=str(oas))
    for k in ("PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(k, None)
    res = subprocess.run(
        [str(bin_ / "pygeoapi"), "openapi", "generate", str(cfg), "--output-file", str(oas)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if res.returncode != 0:
        raise RuntimeError("pygeoapi openapi generate failed: " + res.stderr.strip()[-500:])
    log = OUT / "pygeoapi.log"
    cmd = [
        str(bin_ / "gunicorn"), "pygeoapi.flask_app:APP",
        "-b", f"127.0.0.1:{port}", "-w", str(workers), "--no-control-socket",
    ]  # fmt: skip
    if threads > 1:
        cmd += ["-k", "gthread", "--threads", str(threads)]
    proc = subprocess.Popen(
        cmd, cwd=OUT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    server = Pygeoapi(f"http://127.0.0.1:{port}", proc, log)
    for _ in range(150):
        if proc.poll() is not None:
            break
        try:
            if http(f"{server.url}/collections/cameras?f=json", timeout=2)[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError("pygeoapi did not start; its log ends: " + log.read_text()[-800:])


def same_answers(
    ours: str, theirs: str, bboxes: list[list[float]], page: int, collection: str = "cameras"
) -> str:
    """Compare both servers' features per bbox: ids, numberMatched, largest coordinate gap."""
    same, gap, n_ours, n_theirs = 0, 0.0, 0, 0
    for b in bboxes:
        q = f"/items?bbox={','.join(map(str, b))}&limit={page}&f=json"
        a = get_json(f"{ours}/collections/cameras{q}")
        t = get_json(f"{theirs}/collections/{collection}{q}")
        fa = {str(f["id"]): f["geometry"]["coordinates"] for f in a["features"]}
        ft = {str(f["id"]): f["geometry"]["coordinates"] for f in t["features"]}
        n_ours, n_theirs = n_ours + len(fa), n_theirs + len(ft)
        same += fa.keys() == ft.keys() and a["numberMatched"] == t["numberMatched"]
        for k in fa.keys() & ft.keys():
            gap = max(gap, abs(fa[k][0] - ft[k][0]), abs(fa[k][1] - ft[k][1]))
    why = ""
    if same < len(bboxes) and collection == "cameras":
        why = (
            "\n  (pygeoapi projects only the bbox's two corners to EPSG:27700, a box turned about "
            "2 degrees from the lon/lat one, so it\n  misses or adds cameras near the edges; ours "
            "tests the box in CRS84)"
        )
    return (
        f"same features for {same} of {len(bboxes)} bboxes ({n_ours} features from ours, "
        f"{n_theirs} from pygeoapi); largest coordinate gap {gap:.1e} deg{why}"
    )


@dataclass(frozen=True)
class Table:
    """One cameras table served by one of our assets processes, and the queries to send it."""

    title: str
    ours_base: str
    ours_pids: dict[str, int]
    database_url: str
    bboxes: list[list[float]]
    n_cameras: int
    view: bool = False


def compare(args: argparse.Namespace, table: Table, workers: int) -> None:
    """Our /ogc cameras items against pygeoapi on the same table, same queries and concurrency."""
    from sqlalchemy.engine import make_url

    print(
        f"\n== OGC API - Features cameras items, {table.title}: ours vs pygeoapi "
        f"({args.compare_users} users, no think time, {args.compare_duration:.0f} s each in "
        f"{args.compare_rounds} alternating slices, "
        f"limit={args.page_size}, {len(table.bboxes)} bboxes, {table.n_cameras} cameras)"
    )
    try:
        server = start_pygeoapi(
            table.database_url, workers, args.pygeoapi_threads, args.page_size, table.view
        )
    except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
        print(f"pygeoapi comparison skipped: {exc}")
        return
    try:
        version = subprocess.run(
            [str(PYGEOAPI_VENV / "bin" / "python"), "-c", VERSION_SNIPPET],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        kind = f"gthread x{args.pygeoapi_threads}" if args.pygeoapi_threads > 1 else "sync"
        print(
            f"ours: uvicorn, {workers} worker (as stack.sh starts it); pygeoapi {version}: Flask "
            f"under gunicorn, {workers} {kind} worker, PostgreSQL provider on assets.cameras"
        )
        print(same_answers(table.ours_base, server.url, table.bboxes, args.page_size))
        base_cfg = {"bboxes": table.bboxes, "ogc_limit": args.page_size}
        theirs_pid = {"pygeoapi": server.proc.pid}
        slices: list[tuple[str, dict[str, Any], dict[str, int]]] = [
            ("ours /ogc", {"ogc_base": table.ours_base}, table.ours_pids),
            ("pygeoapi", {"ogc_base": server.url}, theirs_pid),
        ]
        if table.view:
            check = same_answers(
                table.ours_base, server.url, table.bboxes, args.page_size, CRS84_VIEW
            )
            print(f"view: {check}")
            view = {"ogc_base": server.url, "ogc_collection": CRS84_VIEW}
            slices.append(("pygeoapi on a CRS84 view (+)", view, theirs_pid))
        if args.pygeoapi_native:
            native = {"ogc_base": server.url, "ogc_extra": {"crs": BNG_URI}}
            slices.append(("pygeoapi, output in EPSG:27700 (*)", native, theirs_pid))
        # Rounds alternate the order, so load from other jobs on the machine hits both sides.
        rows: dict[str, list[tuple[float, str, float, bool, int]]] = {s[0]: [] for s in slices}
        seconds = dict.fromkeys(rows, 0.0)
        sent = dict.fromkeys(rows, 0)
        db = frozenset({str(make_url(table.database_url).database)})
        cpu: dict[str, CpuMeter] = {}
        for r in range(args.compare_rounds):
            for label, cfg, pids in slices if r % 2 == 0 else slices[::-1]:
                run = run_locust(
                    {**base_cfg, **cfg},
                    ["OgcCompare"],
                    users=args.compare_users,
                    spawn_rate=args.compare_users,
                    duration_s=args.compare_duration / args.compare_rounds + 2,
                    tag="ogc-" + re.sub(r"\W+", "-", label).strip("-"),
                    pids=pids,
                    databases=db,
                )
                sent[label] += len(run.samples)
                rows[label] += in_window(run)
                seconds[label] += run.window[1] - run.window[0]
                cpu[label] = cpu[label].plus(run.cpu) if label in cpu else run.cpu
        results = {label: figures(rows[label], seconds[label]) for label in rows}
        for label, meter in cpu.items():
            print(f"  {label}: {meter.line()}")
        # Server CPU per request (server + its PostgreSQL backends) moves far less than
        # throughput when other jobs share the cores.
        cpu_ms = {k: 1000 * cpu[k].server_seconds() / max(sent[k], 1) for k in rows}
        print(HEADER + f" {'CPU ms/req':>11}")
        for label, f in results.items():
            print(fmt(label, f) + f" {cpu_ms[label]:11.1f}")
        ours = results.pop("ours /ogc")
        for label, theirs in results.items():
            if theirs.requests and ours.requests and "(*)" not in label:
                print(
                    f"ours vs {label}: throughput {ours.rps / theirs.rps:.1f}x, "
                    f"p50 {theirs.p50_ms / ours.p50_ms:.1f}x lower, "
                    f"p99 {theirs.p99_ms / ours.p99_ms:.1f}x lower, "
                    f"server CPU per request {cpu_ms[label] / cpu_ms['ours /ogc']:.1f}x less"
                )
        if table.view:
            print(
                f"(+) pygeoapi's best case: a view {CRS84_VIEW} that reprojects in SQL, so "
                "pygeoapi builds no pyproj transformer per request (a view ours does not need)"
            )
        if args.pygeoapi_native:
            print(
                "(*) not the same answer (coordinates stay in EPSG:27700); pygeoapi still "
                "builds one pyproj transformer per request for the bbox"
            )
    finally:
        server.stop()


SCRATCH_DB = "csp_bench_load"
SEED_SQL = """
SELECT setseed(0.6);
INSERT INTO assets.cameras (asset_tag, name, ward, purpose, technology, deployment, bearing_deg,
    fov_deg, range_m, geom, lifecycle, health, version)
SELECT 'BENCH-' || lpad(i::text, 6, '0'), 'Bench camera ' || i, 'Bench ward ' || (i % 22),
    'Synthetic camera for bench_load.py', CASE WHEN i % 3 = 0 THEN 'analogue' ELSE 'digital' END,
    CASE WHEN i % 10 = 0 THEN 'rapid' ELSE 'fixed' END, (i * 37) % 360, 60, 80,
    ST_SetSRID(ST_MakePoint(570000 + random() * 16000, 162000 + random() * 12000), 27700),
    'active', CASE WHEN i % 17 = 0 THEN 'degraded' ELSE 'online' END, 1
FROM generate_series(1, :n) AS i;
CREATE VIEW assets.cameras_crs84 AS
SELECT id, asset_tag, name, ward, ward_code, purpose, technology, deployment, lifecycle, health,
    bearing_deg, fov_deg, range_m, ST_Transform(geom, 4326)::geometry(Point, 4326) AS geom
FROM assets.cameras
"""


@dataclass
class Scratch:
    """A scratch database with N synthetic cameras and our assets service on it."""

    database_url: str
    base: str
    proc: subprocess.Popen[bytes]

    def stop(self, admin_url: str) -> None:
        """Stop the assets process this script started and drop the scratch database."""
        from sqlalchemy import create_engine, text

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)"))
        finally:
            engine.dispose()


def start_scratch(database_url: str, n: int) -> Scratch:
    """Make the scratch database on the suite's cluster, migrate, seed, serve it (1 worker)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    scratch_url = url.set(database=SCRATCH_DB).render_as_string(hide_password=False)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {SCRATCH_DB} WITH (FORCE)"))
            conn.execute(text(f"CREATE DATABASE {SCRATCH_DB}"))
    finally:
        admin.dispose()
    env = dict(os.environ, DATABASE_URL=scratch_url)
    res = subprocess.run(
        [str(VENV_BIN / "csp"), "db", "upgrade", "head"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if res.returncode != 0:
        raise RuntimeError("csp db upgrade on the scratch database failed: " + res.stderr[-500:])
    engine = create_engine(scratch_url)
    try:
        with engine.begin() as conn:
            for stmt in SEED_SQL.split(";"):
                if stmt.strip():
                    conn.execute(text(stmt), {"n": n})
    finally:
        engine.dispose()
    port = free_port()
    log = (OUT / "assets-scratch.log").open("w")
    proc = subprocess.Popen(
        [str(VENV_BIN / "csp"), "serve", "assets", "--port", str(port)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    scratch = Scratch(scratch_url, f"http://127.0.0.1:{port}", proc)
    for _ in range(150):
        if proc.poll() is not None:
            break
        try:
            if http(f"{scratch.base}/healthz", timeout=2)[0] == 200:
                return scratch
        except OSError:
            pass
        time.sleep(0.2)
    scratch.stop(database_url)
    raise RuntimeError(
        "the scratch assets service did not start; see .run/bench/assets-scratch.log"
    )


def extent_bboxes(ogc_base: str) -> list[list[float]]:
    """Query boxes over a cameras collection's extent."""
    box = get_json(f"{ogc_base}/collections/cameras")["extent"]["spatial"]["bbox"][0]
    return make_bboxes([box[0], box[2]], [box[1], box[3]])


def compare_scratch(args: argparse.Namespace, database_url: str, workers: int) -> None:
    """The same comparison on a scratch database holding ``--scratch-cameras`` cameras."""
    try:
        scratch = start_scratch(database_url, args.scratch_cameras)
    except (RuntimeError, OSError) as exc:
        print(f"scratch comparison skipped: {exc}")
        return
    try:
        base = f"{scratch.base}/ogc"
        table = Table(
            f"scratch database {SCRATCH_DB} (synthetic cameras over Medway)",
            base,
            {"assets (scratch)": scratch.proc.pid},
            scratch.database_url,
            extent_bboxes(base),
            args.scratch_cameras,
            view=True,
        )
        compare(args, table, workers)
    finally:
        scratch.stop(database_url)


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    """Check the suite, make tokens, run the load mix and the comparison, revoke the tokens."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=parse_duration, default=300.0, help="mix: 300, 60s, 5m")
    ap.add_argument("--users", type=int, default=50, help="simulated people in the mix")
    ap.add_argument("--spawn-rate", type=float, default=10.0, help="users started per second")
    ap.add_argument("--think", default="0.5,2.0", help="pause between actions, min,max s")
    ap.add_argument(
        "--list-date",
        default=None,
        help="crews' list date, or 'today' (default: latest with boxes)",
    )
    ap.add_argument("--agencies", default="kfrs,police", help="crews' agencies")
    ap.add_argument("--no-load", action="store_true", help="skip the mix")
    ap.add_argument("--no-compare", action="store_true", help="skip the pygeoapi comparison")
    ap.add_argument("--compare-duration", type=parse_duration, default=30.0)
    ap.add_argument("--compare-users", type=int, default=10)
    ap.add_argument("--compare-rounds", type=int, default=3, help="alternating slices per side")
    ap.add_argument("--page-size", type=int, default=100, help="OGC limit for both servers")
    ap.add_argument("--pygeoapi-threads", type=int, default=1, help="1: gunicorn sync worker")
    ap.add_argument(
        "--pygeoapi-native", action="store_true",
        help="also time pygeoapi answering in EPSG:27700 (not the same answer; diagnostic)",
    )  # fmt: skip
    ap.add_argument(
        "--scratch-cameras", type=int, default=2000,
        help="also compare on a scratch database with this many cameras (0: skip)",
    )  # fmt: skip
    args = ap.parse_args()

    urls = {
        "assets": f"http://127.0.0.1:{os.environ.get('ASSETS_PORT', '8001')}",
        "hotspots": f"http://127.0.0.1:{os.environ.get('HOTSPOTS_PORT', '8002')}",
        "predictive": f"http://127.0.0.1:{os.environ.get('PREDICTIVE_PORT', '8003')}",
    }
    down = unreachable(urls)
    if down:
        print(f"not reachable: {', '.join(down)}. Start the suite with `make demo` and rerun.")
        return 2
    from shared.settings import CommonSettings

    database_url = CommonSettings().database_url
    cores = psutil.cpu_count() or 1
    print(
        f"bench_load {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {cores} cores; load average "
        f"{os.getloadavg()[0]:.2f} before the run. Client (locust, one process) and servers (3 "
        f"services, PostgreSQL) share these {cores} cores, so figures are a floor, not a ceiling."
    )
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    marker = f"bench_load {stamp}"
    tokens = create_tokens(stamp)
    try:
        targets = discover(urls, tokens, args.list_date)
        lo, hi = (float(v) for v in args.think.split(","))
        if not args.no_load:
            print(
                f"\n== Mix: {args.users} users (control room 1 : crews 3 : analysts 2 : camera "
                f"viewers 2), {lo:g}-{hi:g} s think time, {args.duration:.0f} s; "
                f"{len(targets.camera_ids)} cameras take faults, surfaces {targets.surface_ids}, "
                f"lists of {targets.list_date or 'today'} for {args.agencies}"
            )
            config = {
                "urls": urls,
                "tokens": tokens,
                "think_s": [lo, hi],
                "marker": marker,
                "camera_ids": targets.camera_ids,
                "surface_ids": targets.surface_ids,
                "bboxes": targets.bboxes,
                "list_date": targets.list_date,
                "agencies": args.agencies.split(","),
            }
            run = run_locust(
                config,
                LOAD_CLASSES,
                users=args.users,
                spawn_rate=args.spawn_rate,
                duration_s=args.duration,
                tag="load",
                pids=service_pids(),
            )
            rows = in_window(run)
            seconds = run.window[1] - run.window[0]
            print(
                f"steady window {seconds:.0f} s (after the {args.users / args.spawn_rate:.0f} s "
                f"ramp); {len(run.samples) - len(rows)} requests outside it not counted"
            )
            print_load_table(rows, seconds)
            print(run.cpu.line())
            per_req = 1000 * run.cpu.server_seconds() / max(len(run.samples), 1)
            print(
                f"server CPU per request of this mix: {per_req:.1f} ms (3 services + their "
                f"PostgreSQL backends), so about {1000 / per_req:.0f} req/s per free core"
            )
            server_error_lines(rows, run.window[0])
            if run.open_faults:
                n = close_left_open(urls, tokens["operator"], run.open_faults, marker)
                print(f"closed {n} of {len(run.open_faults)} faults left open by stopped users")
            print(
                f"faults written by this run carry '{marker}' in their description "
                f"(locust CSVs: .run/bench/load_stats.csv)"
            )
        if not args.no_compare:
            pids = service_pids()
            workers = uvicorn_workers(pids.get("assets"))
            live = Table(
                "the suite's table",
                f"{urls['assets']}/ogc",
                {"assets": pids["assets"]} if "assets" in pids else {},
                database_url,
                targets.bboxes,
                targets.n_cameras,
            )
            compare(args, live, workers)
            if args.scratch_cameras > 0:
                compare_scratch(args, database_url, workers)
    finally:
        revoke_tokens(stamp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
