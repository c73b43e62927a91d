"""Our OGC API - Features cameras items against pygeoapi on the same table, same queries."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cpu import CpuMeter, service_pids, uvicorn_workers
from .locust_run import HEADER, Figures, figures, fmt, in_window, run_locust
from .support import OUT, ROOT, Sample, free_port, get_json, stop_group, wait_until_ok

PYGEOAPI_VENV = OUT / "pygeoapi-venv"
PYGEOAPI_PACKAGES = ("pygeoapi", "psycopg2-binary", "SQLAlchemy", "GeoAlchemy2", "gunicorn")
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BNG_URI = "http://www.opengis.net/def/crs/EPSG/0/27700"
CRS84_VIEW = "cameras_crs84"  # scratch database only: the public cameras reprojected in SQL
# The public fields our OGC endpoint publishes (services/assets/ogc.py PUBLIC_COLUMNS).
PUBLIC_FIELDS = (
    "asset_tag", "name", "ward", "ward_code", "purpose", "technology", "deployment",
    "lifecycle", "health", "bearing_deg", "fov_deg", "range_m",
)  # fmt: skip
VERSION_SNIPPET = "import pygeoapi; print(pygeoapi.__version__)"


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
        stop_group(self.proc)


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
    if wait_until_ok(f"{server.url}/collections/cameras?f=json", proc):
        return server
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


# One timed side: its label, the locust config it adds, the pids whose CPU is its server's.
Slice = tuple[str, dict[str, Any], dict[str, int]]


@dataclass
class Timed:
    """What the alternating slices measured per label: steady samples, seconds, sent, CPU."""

    rows: dict[str, list[Sample]]
    seconds: dict[str, float]
    sent: dict[str, int]
    cpu: dict[str, CpuMeter]


def compare(args: argparse.Namespace, table: Table, workers: int) -> None:
    """Our /ogc cameras items against pygeoapi on the same table, same queries and concurrency."""
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
        slices = checked_slices(args, table, server)
        timed = time_slices(args, table, slices)
        print_comparison(args, table, timed)
    finally:
        server.stop()


def checked_slices(args: argparse.Namespace, table: Table, server: Pygeoapi) -> list[Slice]:
    """Ours, pygeoapi, and its CRS84 view (answers checked first) or native output if asked."""
    theirs_pid = {"pygeoapi": server.proc.pid}
    slices: list[Slice] = [
        ("ours /ogc", {"ogc_base": table.ours_base}, table.ours_pids),
        ("pygeoapi", {"ogc_base": server.url}, theirs_pid),
    ]
    if table.view:
        check = same_answers(table.ours_base, server.url, table.bboxes, args.page_size, CRS84_VIEW)
        print(f"view: {check}")
        view = {"ogc_base": server.url, "ogc_collection": CRS84_VIEW}
        slices.append(("pygeoapi on a CRS84 view (+)", view, theirs_pid))
    if args.pygeoapi_native:
        native = {"ogc_base": server.url, "ogc_extra": {"crs": BNG_URI}}
        slices.append(("pygeoapi, output in EPSG:27700 (*)", native, theirs_pid))
    return slices


def time_slices(args: argparse.Namespace, table: Table, slices: list[Slice]) -> Timed:
    """``--compare-rounds`` rounds of one locust run per slice, in alternating order."""
    from sqlalchemy.engine import make_url

    base_cfg = {"bboxes": table.bboxes, "ogc_limit": args.page_size}
    # Rounds alternate the order, so load from other jobs on the machine hits both sides.
    labels = [s[0] for s in slices]
    timed = Timed(
        rows={label: [] for label in labels},
        seconds=dict.fromkeys(labels, 0.0),
        sent=dict.fromkeys(labels, 0),
        cpu={},
    )
    db = frozenset({str(make_url(table.database_url).database)})
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
            timed.sent[label] += len(run.samples)
            timed.rows[label] += in_window(run)
            timed.seconds[label] += run.window[1] - run.window[0]
            before = timed.cpu.get(label)
            timed.cpu[label] = run.cpu if before is None else before.plus(run.cpu)
    return timed


def print_comparison(args: argparse.Namespace, table: Table, timed: Timed) -> None:
    """CPU lines, the table with server CPU per request, ours-vs-theirs ratios and footnotes."""
    results: dict[str, Figures] = {
        label: figures(timed.rows[label], timed.seconds[label]) for label in timed.rows
    }
    for label, meter in timed.cpu.items():
        print(f"  {label}: {meter.line()}")
    # Server CPU per request (server + its PostgreSQL backends) moves far less than
    # throughput when other jobs share the cores.
    cpu_ms = {k: 1000 * timed.cpu[k].server_seconds() / max(timed.sent[k], 1) for k in timed.rows}
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


def compare_live(
    args: argparse.Namespace,
    assets_url: str,
    database_url: str,
    bboxes: list[list[float]],
    n_cameras: int,
) -> int:
    """The comparison on the suite's own table; returns our assets' worker count."""
    pids = service_pids()
    workers = uvicorn_workers(pids.get("assets"))
    live = Table(
        "the suite's table",
        f"{assets_url}/ogc",
        {"assets": pids["assets"]} if "assets" in pids else {},
        database_url,
        bboxes,
        n_cameras,
    )
    compare(args, live, workers)
    return workers
