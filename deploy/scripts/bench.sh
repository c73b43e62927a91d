#!/usr/bin/env bash
# Benchmarks against peers on this machine, in one run: KDE (KDEpy, scikit-learn, QGIS where
# installed), Gi* (esda), the grid ETAS fit, the OpenAPI fuzzer (thousands of cases per service)
# the load mix (locust, 5 minutes, with our OGC cameras against pygeoapi on the same table) and a
# zoom-14 vector tile of 100,000 incidents against the same features as GeoJSON items.
# Each prints its figures and the ratios to its goals. BENCH="bench_kde bench_etas" picks some.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
bash deploy/scripts/stack.sh install
mkdir -p .run/logs
.venv/bin/pip install -q -e ".[bench]" >.run/logs/pip-bench.log 2>&1 || { tail -n 20 .run/logs/pip-bench.log; exit 1; }
export PYTHONPATH="$ROOT"
export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgresql+psycopg2://csp:csp@127.0.0.1:${CSP_PG_PORT:-5433}/csp_test}
export CSP_ENVIRONMENT=${CSP_ENVIRONMENT:-development}
for b in ${BENCH:-bench_kde bench_gistar bench_etas bench_fuzz bench_load bench_predictive_real bench_ogc_tiles}; do
  printf '\n\033[1m== %s\033[0m\n' "$b"
  case "$b" in
    bench_fuzz|bench_ogc_tiles) bash deploy/scripts/stack.sh test-env >/dev/null ;;  # PostGIS for a scratch database
    bench_load) bash deploy/scripts/stack.sh up >/dev/null ;;        # the running suite it loads
  esac
  .venv/bin/python "bench/$b.py"
done
