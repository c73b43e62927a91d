"""Bench: health checks of 500 cameras (healthy, dead and broken) against a real RTSP server.

Starts the loopback GStreamer RTSP test server (deploy/demo/rtsp_cameras.py, run by
the system python3), points 500 cameras at its mounts (many cameras share a mount, as the server
shares its media) and checks them all, ``--rounds`` times, the way one worker does: reading in
parallel (``--concurrency``), each camera bounded (``--bound``), judged against its own history.
Prints the time per round, per-camera p50/p99, and detection: each broken or dead camera's
cause found (and in which round), false alarms among the healthy ones. The database writes are
not in the timing (a few ms per camera; the reads dominate).

    .venv/bin/python bench/bench_camera_health.py [--cameras 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.assets.health.causes import CONNECTION_CAUSES, Cause  # noqa: E402
from services.assets.health.judge import judge, pack_reference  # noqa: E402
from services.assets.health.stream import StreamFailure, read_bounded, with_credentials  # noqa: E402
from tests.integration.health.rtsp import (  # noqa: E402
    PASSWORD,
    USER,
    RtspServer,
    SilentServer,
    fault_mounts,
)

HEALTHY_MOUNTS = 12
# Broken pictures: mount -> (mode, expected cause); each mount is shared by its cameras.
BROKEN = fault_mounts(HEALTHY_MOUNTS)
NIGHT = ("cam8", "cam9")  # healthy cameras at night (low light, more noise)
STILL = ("cam10",)  # healthy, nothing moving


@dataclass
class Cam:
    """One benched camera: its address, what it should be found to be, and its history."""

    id: int
    url: str
    expected: Cause
    mount: str | None
    reference: bytes | None = None
    baseline: float | None = None
    fingerprint: bytes | None = None
    found_round: int | None = None
    failures: int = 0


def plan(n: int, srv: RtspServer, silent: SilentServer) -> list[Cam]:
    """80% healthy, 10% broken pictures, 10% dead (refused, hung, 404, wrong password)."""
    cams: list[Cam] = []
    kinds = ["healthy"] * 8 + ["broken", "dead"]
    for i in range(n):
        kind = kinds[i % len(kinds)]
        if kind == "healthy":
            mount = f"cam{i % HEALTHY_MOUNTS}"
            cams.append(Cam(i, srv.url(mount), Cause.OK, mount))
        elif kind == "broken":
            mount = list(BROKEN)[(i // 10) % len(BROKEN)]
            cams.append(Cam(i, srv.url(mount), BROKEN[mount][1], mount))
        else:
            j = (i // 10) % 4
            if j == 0:
                cams.append(Cam(i, f"rtsp://127.0.0.1:9/cam{i}", Cause.REFUSED, None))
            elif j == 1:
                cams.append(Cam(i, silent.url, Cause.TIMED_OUT, None))
            elif j == 2:
                cams.append(Cam(i, srv.url("cam0") + f"-gone{i}", Cause.NO_STREAM, None))
            else:
                url = with_credentials(srv.url("secure"), USER, "wrong" + PASSWORD)
                cams.append(Cam(i, url, Cause.AUTH_FAILED, None))
    return cams


def reference(url: str, bound_s: float) -> tuple[bytes, float]:
    """A reference view from a good snapshot (an operator retries a failed one)."""
    for _ in range(3):
        try:
            return pack_reference(read_bounded(url, bound_s=bound_s).frames)
        except StreamFailure:
            continue
    raise RuntimeError(f"no reference view from {url}")


def check(cam: Cam, bound_s: float) -> tuple[Cause, float]:
    """Read and judge one camera; (cause, seconds)."""
    start = time.monotonic()
    try:
        sample = read_bounded(cam.url, bound_s=bound_s)
    except StreamFailure as failure:
        return failure.cause, time.monotonic() - start
    v = judge(
        sample.frames,
        previous_fingerprint=cam.fingerprint,
        sharpness_baseline=cam.baseline,
        reference=cam.reference,
    )
    cam.fingerprint = v.fingerprint
    return v.cause, time.monotonic() - start


def main() -> None:
    """Run the bench and print its figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--bound", type=float, default=10.0)
    args = ap.parse_args()
    srv, silent = RtspServer(mounts=18), SilentServer()
    try:
        # Reference views by day, one per mount (an operator's good snapshot).
        refs = {m: reference(srv.url(m), args.bound) for m in [f"cam{i}" for i in range(18)]}
        for m in NIGHT:
            srv.mode(m, "dark")
        for m in STILL:
            srv.mode(m, "still")
        for m, (mode, _) in BROKEN.items():
            srv.mode(m, mode)
        cams = plan(args.cameras, srv, silent)
        for c in cams:
            if c.mount:
                c.reference, c.baseline = refs[c.mount]
        false_alarms, healthy_checks, opened = 0, 0, 0
        alarms: dict[str, int] = {}
        missed: dict[str, int] = {}
        durations: list[float] = []
        pool = concurrent.futures.ThreadPoolExecutor(args.concurrency)
        for r in range(1, args.rounds + 1):
            t0 = time.monotonic()
            results = list(pool.map(lambda c: check(c, args.bound), cams))
            took = time.monotonic() - t0
            for cam, (cause, secs) in zip(cams, results, strict=True):
                durations.append(secs)
                if cam.expected == Cause.OK:
                    healthy_checks += 1
                    false_alarms += cause != Cause.OK
                    if cause != Cause.OK:
                        alarms[cause.value] = alarms.get(cause.value, 0) + 1
                    # The service's rule: a lost connection opens a fault at its second
                    # failure in a row, a bad picture at its first.
                    cam.failures = cam.failures + 1 if cause != Cause.OK else 0
                    need = 2 if cause in CONNECTION_CAUSES else 1
                    opened += cause != Cause.OK and cam.failures == need
                elif cause == cam.expected and cam.found_round is None:
                    cam.found_round = r
                elif cause != cam.expected:
                    key = f"{cam.expected.value} seen as {cause.value} (round {r})"
                    missed[key] = missed.get(key, 0) + 1
            print(f"round {r}: {len(cams)} cameras in {took:.1f} s")
        d = np.array(durations)
        print(
            f"per camera: p50 {np.percentile(d, 50):.2f} s, p99 {np.percentile(d, 99):.2f} s,"
            f" max {d.max():.2f} s"
        )
        bad = [c for c in cams if c.expected != Cause.OK]
        by: dict[str, list[int]] = {}
        for c in bad:
            by.setdefault(c.expected.value, []).append(c.found_round or 0)
        for cause, rounds in sorted(by.items()):
            found = sum(1 for x in rounds if x)
            within2 = sum(1 for x in rounds if 0 < x <= 2)
            print(f"  {cause:12s} {found}/{len(rounds)} found, {within2} within two checks")
        print(f"false alarms: {false_alarms} of {healthy_checks} healthy checks: {alarms}")
        print(f"faults the service would open on healthy cameras: {opened}")
        print(f"other results of broken/dead cameras: {missed}")
    finally:
        srv.stop()
        silent.stop()


if __name__ == "__main__":
    main()
