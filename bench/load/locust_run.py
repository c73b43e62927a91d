"""Running locust headless on ``bench/locustfile.py`` and turning its samples into figures."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .cpu import CpuMeter
from .support import CONFIG_ENV, OUT, ROOT, VENV_BIN, Sample


@dataclass
class Run:
    """Samples of one locust run and its measuring window."""

    samples: list[Sample]
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
    env = dict(os.environ, **{CONFIG_ENV: str(cfg_path)})
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


@dataclass(frozen=True)
class Figures:
    """Requests, throughput, median and 99th percentile latency, errors (and how many 5xx)."""

    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_errors: int


def figures(rows: Sequence[Sample], seconds: float) -> Figures:
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


def in_window(run: Run) -> list[Sample]:
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
