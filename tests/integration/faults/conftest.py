"""A private stack for fault injection: PostGIS, Redis, the three services and a Celery worker.

Other people's tests use the shared PostGIS (5433) and Redis (6380), so nothing here ever touches
them: every process below is started on free ports in a temporary folder, may be stopped, killed
and restarted by the tests, and is torn down at the end of the session even when a test fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, SHARED_DATA
from tests.factories import make_camera
from tests.support import free_port, wait_for

PGBIN = Path("/usr/lib/postgresql/15/bin")
VENV_BIN = ROOT / ".venv" / "bin"
SERVICES = ("assets", "hotspots", "predictive")
# Short enough that a message held by a killed worker is redelivered within the test.
VISIBILITY_TIMEOUT_S = 6
# Cameras in Medway town centres (lon, lat).
CAMERAS = [(0.5270, 51.3830), (0.5490, 51.3880), (0.4850, 51.3940), (0.6110, 51.3620)]


def _as_pg(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root: run its tools as the postgres user (as stack.sh does).
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@dataclass
class Postgis:
    """A throw-away PostGIS 15 cluster in ``root`` listening on 127.0.0.1:``port``."""

    root: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        """The cluster's data directory."""
        return self.root / "data"

    def url(self, db: str = "csp") -> str:
        """SQLAlchemy URL of database ``db`` as the ``csp`` role."""
        return f"postgresql+psycopg2://csp:csp@127.0.0.1:{self.port}/{db}"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_pg([str(PGBIN / "pg_ctl"), "-D", str(self.data), *args]),
            check=True,
            capture_output=True,
            timeout=90,
        )

    def init(self) -> None:
        """initdb, start, create the csp role and database (the migrations add PostGIS)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        subprocess.run(
            _as_pg(
                [
                    str(PGBIN / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    "postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ]
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.start()
        for sql in (
            "CREATE ROLE csp LOGIN SUPERUSER PASSWORD 'csp'",
            "CREATE DATABASE csp OWNER csp",
        ):
            subprocess.run(
                _as_pg(
                    [
                        "psql",
                        "-h",
                        str(self.root),
                        "-p",
                        str(self.port),
                        "-U",
                        "postgres",
                        "-qAt",
                        "-v",
                        "ON_ERROR_STOP=1",
                        "-c",
                        sql,
                    ]
                ),
                check=True,
                capture_output=True,
                timeout=30,
            )

    def start(self) -> None:
        """Start the cluster and wait until it accepts connections."""
        opts = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            "-c max_connections=200 -c fsync=off -c full_page_writes=off"
        )
        self._ctl("-l", str(self.root / "postgres.log"), "-w", "-t", "60", "start", "-o", opts)

    def stop(self, mode: str = "fast") -> None:
        """Stop the cluster (``fast``: roll back open transactions; ``immediate``: crash)."""
        self._ctl("-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        """``pg_ctl restart``: stop, then start with the same options."""
        self.stop(mode)
        self.start()

    def running(self) -> bool:
        """True while the postmaster runs."""
        return (
            subprocess.run(
                _as_pg([str(PGBIN / "pg_ctl"), "-D", str(self.data), "status"]), capture_output=True
            ).returncode
            == 0
        )

    def destroy(self) -> None:
        """Stop at once and delete the cluster."""
        if self.data.exists() and self.running():
            with contextlib.suppress(Exception):
                self.stop("immediate")


def _die_with_parent() -> None:
    """In the child: get SIGTERM if the test process dies, so nothing outlives a killed run."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Proc:
    """A long-running child in its own process group, its output in a log file."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str], logs: Path) -> None:
        self.name, self.cmd, self.env = name, cmd, env
        self.log = logs / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process (appending to its log)."""
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(
                self.cmd,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # started from the main thread only
            )

    @property
    def pid(self) -> int:
        """The process id (its process group id too)."""
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        """True while the process runs."""
        return self.popen is not None and self.popen.poll() is None

    def send(self, sig: int) -> None:
        """Send ``sig`` to the process group (the process and its pool children) while the
        process runs; once it is reaped its id may belong to someone else, so leave it."""
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)

    def wait_or_kill(self, timeout_s: float = 15) -> None:
        """Wait for the process to end; SIGKILL its group if it will not."""
        if self.popen is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=timeout_s)
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=timeout_s)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the whole group and wait until the process is gone."""
        self.send(sig)
        self.wait_or_kill()

    def stop(self) -> None:
        """TERM the group, then KILL what is left."""
        self.kill(signal.SIGTERM)

    def children(self) -> list[int]:
        """Pids of the direct children (a Celery worker's pool processes)."""
        out: list[int] = []
        for task in Path(f"/proc/{self.pid}/task").glob("*"):
            with contextlib.suppress(OSError):
                out += [int(p) for p in (task / "children").read_text().split()]
        return out

    def log_text(self) -> str:
        """Everything the process wrote so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""


class Redis(Proc):
    """A private ``redis-server`` with no persistence."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        cmd = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--daemonize",
            "no",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(root),
        ]
        super().__init__("redis", cmd, env, root)

    @property
    def url(self) -> str:
        """Broker URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def ping(self) -> bool:
        """True when the server answers PING."""
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def up(self) -> None:
        """Start and wait for PONG."""
        self.start()
        wait_for(self.ping, 15, "redis to answer")


@dataclass
class FaultStack:
    """Handles on every process of the private stack and the data the tests rely on."""

    root: Path
    pg: Postgis
    redis: Redis
    services: dict[str, Proc]
    urls: dict[str, str]
    worker: Proc
    env: dict[str, str]
    tokens: dict[str, dict[str, str]]
    camera_ids: list[int]
    _probe: Any = field(default=None, init=False, repr=False)

    @property
    def db_url(self) -> str:
        """SQLAlchemy URL of the private database."""
        return self.pg.url()

    def engine(self) -> Any:
        """A fresh engine on the private database (the caller disposes it)."""
        from shared.db import make_engine

        return make_engine(self.db_url, pool_size=2)

    def probe(self) -> Any:
        """One long-lived engine for the tests' own queries: polling must not open a connection
        (a fork and a SCRAM handshake) per call, or it slows the processes it watches."""
        if self._probe is None:
            from shared.db import make_engine

            self._probe = make_engine(self.db_url, pool_size=1)
        return self._probe

    def scalar(self, sql: str, **params: Any) -> Any:
        """Run one query and return its scalar."""
        from sqlalchemy import text

        with self.probe().connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def engine_rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        """Run one query and return its rows."""
        from sqlalchemy import text

        with self.probe().connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]

    def start_worker(self) -> None:
        """Start a Celery worker (one pool process) and wait until it consumes."""
        seen = len(self.worker.log_text())
        self.worker.start()
        wait_for(
            lambda: " ready." in self.worker.log_text()[seen:],
            60,
            "the worker to be ready",
            every_s=0.2,
        )

    def ensure_up(self) -> None:
        """Bring back whatever a test stopped: PostGIS, Redis, the worker; services answer."""
        if not self.pg.running():
            self.pg.start()
        if not self.redis.alive():
            self.redis.up()
        if not self.worker.alive():
            self.start_worker()
        for name, base in self.urls.items():
            wait_for(partial(_ready, base), 30, f"{name} /readyz 200")


def _ready(base: str) -> bool:
    return httpx.get(f"{base}/readyz", timeout=5).status_code == 200


def _service_env(pg: Postgis, redis_url: str, outputs: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("CSP_", "ASSETS_", "HOTSPOTS_", "PREDICTIVE_", "DATABASE_URL", "REDIS_URL")
        )
    }
    env.update(
        DATABASE_URL=pg.url(),
        REDIS_URL=redis_url,
        CSP_ENVIRONMENT="test",
        CSP_LOG_JSON="false",
        CSP_CELERY_EAGER="false",
        CSP_OUTPUT_DIR=str(outputs),
        CSP_BROKER_VISIBILITY_TIMEOUT_S=str(VISIBILITY_TIMEOUT_S),
        PYTHONUNBUFFERED="1",
    )
    for prefix in ("ASSETS", "HOTSPOTS", "PREDICTIVE"):
        env.update(
            {
                f"{prefix}_ENVIRONMENT": "test",
                f"{prefix}_LOG_JSON": "false",
                f"{prefix}_CELERY_EAGER": "false",
                f"{prefix}_OUTPUT_DIR": str(outputs),
            }
        )
    return env


def _migrate(db_url: str) -> None:
    """``alembic upgrade head`` on the private database, as the suite's conftest does."""
    from alembic import command

    from shared.cli import alembic_config

    command.upgrade(alembic_config(db_url), "head")


def _seed(db_url: str) -> tuple[dict[str, dict[str, str]], list[int]]:
    """Import three real police months, create tokens and a few cameras."""
    from sqlalchemy import text

    from shared.auth import create_token
    from shared.db import make_engine, make_sessionmaker
    from shared.incidents.store import import_file

    eng = make_engine(db_url, pool_size=1)
    tokens: dict[str, dict[str, str]] = {}
    try:
        with make_sessionmaker(eng)() as s:
            for f in sorted((SHARED_DATA / "police").glob("2022-0[1-3]-*.csv")):
                import_file(s, f, source="police")
            for role in ("operator", "analyst", "admin", "seg"):
                _, clear = create_token(s, name=f"faults {role}", role=role)
                tokens[role] = {"Authorization": f"Bearer {clear}"}
            s.commit()
            ids = []
            for i, (lon, lat) in enumerate(CAMERAS):
                cam = make_camera(
                    s,
                    lon=lon,
                    lat=lat,
                    name=f"Fault test {i}",
                    actor="faults",
                    review_interval_days=365,
                )
                ids.append(cam.id)
            s.commit()
            assert s.scalar(text("SELECT count(*) FROM incidents.incidents")) > 5_000
    finally:
        eng.dispose()
    return tokens, ids


@pytest.fixture(scope="session")
def stack() -> Iterator[FaultStack]:
    """The private stack, started once; every process is torn down even when a test fails."""
    if not (PGBIN / "initdb").exists() or shutil.which("redis-server") is None:
        pytest.skip("needs PostgreSQL 15 with PostGIS and redis-server installed")
    root = Path(tempfile.mkdtemp(prefix="csp-faults-"))
    os.chmod(root, 0o755)
    logs = root / "logs"
    logs.mkdir()
    pg = Postgis(root / "pg")
    procs: list[Proc] = []
    st: FaultStack | None = None
    try:
        pg.init()
        redis = Redis(root, {**os.environ})
        procs.append(redis)
        redis.up()
        env = _service_env(pg, redis.url, root / "outputs")
        _migrate(pg.url())
        # The services and the worker start while the data is loaded: they only need the schema.
        services, urls = {}, {}
        for name in SERVICES:
            port = free_port()
            proc = Proc(
                name, [str(VENV_BIN / "csp"), "serve", name, "--port", str(port)], env, logs
            )
            procs.append(proc)
            proc.start()
            services[name], urls[name] = proc, f"http://127.0.0.1:{port}"
        worker = Proc("worker", [str(VENV_BIN / "csp"), "worker", "--concurrency", "1"], env, logs)
        procs.append(worker)
        worker.start()
        tokens, camera_ids = _seed(pg.url())
        st = FaultStack(root, pg, redis, services, urls, worker, env, tokens, camera_ids)
        wait_for(lambda: " ready." in worker.log_text(), 60, "the worker to be ready", every_s=0.2)
        st.ensure_up()
        yield st
    finally:
        if st is not None and st._probe is not None:
            st._probe.dispose()
        for p in procs:  # TERM everything at once, then wait for each
            p.send(signal.SIGTERM)
        for p in procs:
            with contextlib.suppress(Exception):
                p.wait_or_kill()
        pg.destroy()
        keep = os.environ.get("CSP_FAULTS_KEEP")
        if keep:
            print(f"fault stack kept in {root}")  # noqa: T201
        else:
            shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def up(stack: FaultStack) -> Iterator[FaultStack]:
    """The stack, healthy before the test and brought back up after it whatever happened."""
    stack.ensure_up()
    yield stack
    stack.ensure_up()
