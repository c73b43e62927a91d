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

The parts live in ``bench/load/``: ``support`` (HTTP, processes, scratch databases), ``cpu``,
``locust_run`` (running ``bench/locustfile.py`` and the figures), ``mix``, ``pygeoapi_compare``
and ``scratch``.
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime

import psutil
from load.mix import create_tokens, discover, revoke_tokens, run_mix
from load.pygeoapi_compare import compare_live
from load.scratch import compare_scratch
from load.support import parse_duration, unreachable


def parser() -> argparse.ArgumentParser:
    """The command line (unchanged since the single-file script)."""
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
    return ap


def suite_urls() -> dict[str, str]:
    """The three services on loopback (ports from ASSETS_PORT etc., as stack.sh)."""
    return {
        "assets": f"http://127.0.0.1:{os.environ.get('ASSETS_PORT', '8001')}",
        "hotspots": f"http://127.0.0.1:{os.environ.get('HOTSPOTS_PORT', '8002')}",
        "predictive": f"http://127.0.0.1:{os.environ.get('PREDICTIVE_PORT', '8003')}",
    }


def main() -> int:
    """Check the suite, make tokens, run the load mix and the comparison, revoke the tokens."""
    args = parser().parse_args()
    urls = suite_urls()
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
            run_mix(args, urls, tokens, targets, marker, (lo, hi))
        if not args.no_compare:
            workers = compare_live(
                args, urls["assets"], database_url, targets.bboxes, targets.n_cameras
            )
            if args.scratch_cameras > 0:
                compare_scratch(args, database_url, workers)
    finally:
        revoke_tokens(stamp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
