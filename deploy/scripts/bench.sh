#!/usr/bin/env bash
# Benchmarks against peers on this machine, in one run: KDE (KDEpy, scikit-learn, QGIS where
# installed), Gi* (esda), the grid ETAS fit. Each prints its figures and the ratios to its goals.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
bash deploy/scripts/stack.sh install
.venv/bin/pip install -q -e ".[bench]" >/dev/null
export PYTHONPATH="$ROOT"
for b in bench_kde bench_gistar bench_etas; do
  printf '\n\033[1m== %s\033[0m\n' "$b"
  .venv/bin/python "bench/$b.py"
done
