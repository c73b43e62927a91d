"""Helpers the bench scripts share: paths, loopback HTTP, ports, processes, scratch databases.

Standard library only at import time (``locustfile.py`` imports it inside locust's gevent world);
SQLAlchemy is imported by the database helpers when they are called.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeAlias

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / ".run"
OUT = RUN / "bench"
VENV_BIN = ROOT / ".venv" / "bin"
# bench_load.py writes the locust config to a file and passes its path in this variable.
CONFIG_ENV = "BENCH_LOAD_CONFIG"
# One request as locustfile.py records it: start time (epoch s), name, ms, ok, HTTP status.
Sample: TypeAlias = tuple[float, str, float, bool, int]


def parse_duration(raw: str) -> float:
    """Seconds from ``300``, ``300s``, ``5m`` or ``1h``."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", raw)
    if not m:
        raise argparse.ArgumentTypeError(f"duration like 300, 30s, 5m or 1h, not {raw!r}")
    return float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


# --- talking to servers on loopback -----------------------------------------------------------


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


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- processes this script starts -------------------------------------------------------------


def wait_until_ok(url: str, proc: subprocess.Popen[bytes], tries: int = 150) -> bool:
    """Poll ``url`` every 0.2 s until it answers 200 (True) or ``proc`` exits or time is up."""
    for _ in range(tries):
        if proc.poll() is not None:
            break
        try:
            if http(url, timeout=2)[0] == 200:
                return True
        except OSError:
            pass
        time.sleep(0.2)
    return False


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process started with ``start_new_session=True`` and its children (its group)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


def csp(*args: str) -> str:
    """Run the ``csp`` command line and return its stdout."""
    res = subprocess.run(
        [str(VENV_BIN / "csp"), *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    if res.returncode != 0:
        raise RuntimeError(f"csp {' '.join(args)} failed: {res.stderr.strip() or res.stdout}")
    return res.stdout


# --- query boxes ------------------------------------------------------------------------------


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


# --- scratch databases ------------------------------------------------------------------------


def drop_database(admin_url: str, name: str) -> None:
    """``DROP DATABASE IF EXISTS name WITH (FORCE)``, connected through ``admin_url``."""
    _on_cluster(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def recreate_database(admin_url: str, name: str) -> None:
    """Drop ``name`` if it exists and create it empty, connected through ``admin_url``."""
    _on_cluster(
        admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'
    )


def _on_cluster(admin_url: str, *statements: str) -> None:
    """Run statements outside a transaction (CREATE/DROP DATABASE) on another database."""
    from sqlalchemy import create_engine, text

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            for stmt in statements:
                conn.execute(text(stmt))
    finally:
        engine.dispose()
