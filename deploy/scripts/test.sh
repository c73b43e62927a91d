#!/usr/bin/env bash
# The whole suite: lint, type check, import contracts, unit, integration and browser tests.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"
export PG_PORT=${CSP_PG_PORT:-5433}
export TEST_DATABASE_URL=${TEST_DATABASE_URL:-postgresql+psycopg2://csp:csp@127.0.0.1:$PG_PORT/csp_test}
export REDIS_URL=${TEST_REDIS_URL:-redis://127.0.0.1:${CSP_REDIS_PORT:-6380}/15}
export CSP_ENVIRONMENT=test CSP_LOG_JSON=false
V=.venv/bin
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step "ruff (lint)";        $V/ruff check .
step "ruff (format)";      $V/ruff format --check .
step "mypy (types)";       $V/mypy
step "import contracts";   $V/lint-imports --no-cache
step "pytest (unit, integration, browser)"
$V/pytest -q -p no:cacheprovider --timeout=600 "$@"
