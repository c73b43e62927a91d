"""Fuzz every service's OpenAPI document with thousands of schemathesis cases per service.

Run: PYTHONPATH=. .venv/bin/python bench/bench_fuzz.py [--examples N] [--max-seconds S]
     [--services assets,hotspots,predictive] [--show 10] [--log-level WARNING]

Each service runs in-process (schemathesis' ASGI client) against a fresh PostGIS database,
``csp_fuzzbench`` on the server of ``TEST_DATABASE_URL`` (default
postgresql+psycopg2://csp:csp@127.0.0.1:5433/csp_test), migrated with ``alembic upgrade head``,
seeded through the API (cameras, a fault, a surface run, Medway boundaries, a target list ...)
and dropped at the end. Requests use real per-request sessions that commit, so writes pile up
as they would in production. The fuzzer, the checks and the seeding are those of
``tests/integration/test_fuzz.py``: positive and negative cases, admin / crew / no token, some
ids swapped for existing ones; a response fails when it is a 5xx (or an exception escapes the
app), or when a 4xx is not ``application/problem+json`` with ``type``, ``title`` and a
``status`` equal to the HTTP status.

``--examples N`` is the number of positive cases per operation (negative: N // 2); by default
N is chosen per service so that at least 2,000 cases are generated for it. Hypothesis stops
early on operations with few distinct inputs (``/healthz``), so "requests" is what was sent.
``--max-seconds`` bounds each service; a service that runs out of time says so.

Measured on the 2-core dev box (default N, 2026-11-30, a helper's tests running alongside):

| service | operations | requests | 5xx | non-problem errors | time |
|---|---|---|---|---|---|
| assets | 38 | 2,267 | 0 | 0 | 14.1 s |
| hotspots | 28 | 2,038 | 0 | 0 | 15.9 s |
| predictive | 11 | 2,019 | 0 | 0 | 12.1 s |

Statuses over the three: 2,197 2xx, 1,168 401, 156 403, 802 404, 368 405, 1,319 422, 265 400,
18 409, 31 428 (If-Match missing). The 500s it found on the way (NUL characters, UTC offsets
over 15:59, years 1 and 9999, bigint offsets, an empty list page) are pinned in
``tests/integration/test_fuzz_regressions.py``.

Exit status 1 when any service has a finding or ran out of time.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from load.support import drop_database, recreate_database  # noqa: E402

from tests.integration.test_fuzz import (  # noqa: E402
    SEEDERS,
    SERVICES,
    Fuzzer,
    Report,
    examples_for,
)

BASE = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg2://csp:csp@127.0.0.1:5433/csp_test")
DB_NAME = "csp_fuzzbench"
MIN_REQUESTS = 2000


def bench_url() -> str:
    return BASE.rsplit("/", 1)[0] + "/" + DB_NAME


def admin_url(url: str) -> str:
    """The ``postgres`` database on the same server, to create and drop the bench one from."""
    return url.rsplit("/", 1)[0] + "/postgres"


def create_db(url: str) -> None:
    """Create the bench database afresh and migrate it (the test suite's migration helper)."""
    from tests.conftest import _reset_database

    recreate_database(admin_url(url), DB_NAME)
    _reset_database(url)


def drop_db(url: str) -> None:
    drop_database(admin_url(url), DB_NAME)


def make_tokens(session: Any) -> dict[str, str]:
    from shared.auth import ROLES, create_token

    out = {}
    for role in ROLES:
        _, clear = create_token(session, name=f"fuzzbench {role}", role=role)
        out[role] = f"Bearer {clear}"
    session.commit()
    return out


def fuzz_service(service: str, url: str, args: argparse.Namespace, out_dir: Path) -> Report:
    import importlib

    from schemathesis.python import asgi
    from sqlalchemy.orm import Session

    from shared.db import make_engine

    settings_cls = importlib.import_module("csp.services").SERVICES[service].settings
    settings = settings_cls(
        database_url=url,
        environment="test",
        log_json=False,
        log_level=args.log_level,
        celery_eager=True,
        output_dir=out_dir,
    )
    app = importlib.import_module(f"services.{service}.main").create_app(settings)
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            tokens = make_tokens(session)
            with asgi.get_client(app) as client:
                known = SEEDERS[service](client, session, {"Authorization": tokens["admin"]})
        fuzzer = Fuzzer(service, app, tokens, known, max_seconds=args.max_seconds)
        # Operations without input (/healthz) give a case or two whatever is asked.
        n_ops = fuzzer.count_operations(with_inputs=True)
        if args.examples:
            n = args.examples
            examples = {"positive": n, "negative": max(1, n // 2), "coverage": n}
        else:
            # Hypothesis stops early on operations with few distinct inputs: aim above.
            examples = examples_for(n_ops, math.ceil(MIN_REQUESTS * 1.1))
        report = fuzzer.run(examples)
        # Hypothesis stops early on operations with few distinct inputs: top up with more
        # positive cases from other fixed seeds until the service has had its MIN_REQUESTS.
        for seed in range(1, 6):
            if args.examples or report.requests >= MIN_REQUESTS or report.timed_out:
                break
            missing = MIN_REQUESTS - report.requests
            report = fuzzer.run({"positive": max(5, math.ceil(missing / n_ops))}, seed=seed)
        return report
    finally:
        engine.dispose()


def print_report(r: Report, show: int) -> None:
    print(
        f"{r.service:<11} operations {r.operations:>3}  requests {r.requests:>6}  "
        f"5xx {r.server_errors:>4}  non-problem errors {r.bad_errors:>4}  "
        f"time {r.seconds:7.1f} s  ({r.requests / max(r.seconds, 1e-9):.0f} req/s)"
        + ("  TIMED OUT" if r.timed_out else "")
    )
    codes = ", ".join(f"{s}: {n}" for s, n in sorted(r.statuses.items()))
    print(f"{'':<11} statuses {codes}")
    slow = sorted(r.seconds_per_operation.items(), key=lambda kv: -kv[1])[:5]
    print(
        f"{'':<11} slowest "
        + ", ".join(f"{label} {sec:.1f} s/{r.per_operation[label]}" for label, sec in slow)
    )
    for f in r.findings[:show]:
        print(f"  - {f}")
    if len(r.findings) > show:
        print(f"  ... {len(r.findings) - show} more")
    for s in r.skipped[:show]:
        print(f"  (skipped) {s[:200]}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--examples",
        type=int,
        default=None,
        help="positive cases per operation (negative: half); default: >= 2000 total",
    )
    ap.add_argument("--max-seconds", type=float, default=600.0, help="time bound per service")
    ap.add_argument("--services", default=",".join(SERVICES))
    ap.add_argument("--show", type=int, default=10, help="findings to print per service")
    ap.add_argument("--log-level", default="CRITICAL", help="the apps' log level")
    ap.add_argument("--keep-db", action="store_true", help="leave csp_fuzzbench for inspection")
    args = ap.parse_args()
    url = bench_url()
    failed = False
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fuzzbench-") as tmp:
        try:
            for service in args.services.split(","):
                create_db(url)
                report = fuzz_service(service, url, args, Path(tmp) / service)
                print_report(report, args.show)
                failed |= bool(report.findings) or report.timed_out
        finally:
            if not args.keep_db:
                drop_db(url)
    print(f"total {time.perf_counter() - t0:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
