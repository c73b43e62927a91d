"""CPU accounting for a bench phase: the client, each service, their PostgreSQL backends, all."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field

import psutil

from .support import RUN


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
