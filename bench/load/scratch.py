"""The comparison again on a scratch database of synthetic cameras served by our own assets."""

from __future__ import annotations

import argparse
import os
import subprocess
from dataclasses import dataclass

from .pygeoapi_compare import Table, compare
from .support import (
    OUT,
    ROOT,
    VENV_BIN,
    drop_database,
    free_port,
    get_json,
    make_bboxes,
    recreate_database,
    stop_group,
    wait_until_ok,
)

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
        stop_group(self.proc)
        drop_database(admin_url, SCRATCH_DB)


def start_scratch(database_url: str, n: int) -> Scratch:
    """Make the scratch database on the suite's cluster, migrate, seed, serve it (1 worker)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    scratch_url = url.set(database=SCRATCH_DB).render_as_string(hide_password=False)
    recreate_database(database_url, SCRATCH_DB)
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
    if wait_until_ok(f"{scratch.base}/healthz", proc):
        return scratch
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
