#!/usr/bin/env bash
# Local stack without Docker: system packages, .venv, a project-local PostGIS cluster and Redis,
# the three services, a Celery worker and beat. Every step is idempotent.
# Usage: stack.sh install|db|up|down|status|test-env
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN=${CSP_RUN_DIR:-$ROOT/.run}
PY=${PYTHON:-python3.11}
PGBIN=/usr/lib/postgresql/15/bin
PG_PORT=${CSP_PG_PORT:-5433}
REDIS_PORT=${CSP_REDIS_PORT:-6380}
ASSETS_PORT=${ASSETS_PORT:-8001}
HOTSPOTS_PORT=${HOTSPOTS_PORT:-8002}
PREDICTIVE_PORT=${PREDICTIVE_PORT:-8003}
# The demo's simulated cameras (RTSP; /secure on the next port).
CAMERAS_PORT=${CSP_DEMO_RTSP_PORT:-8554}
export DATABASE_URL=${DATABASE_URL:-postgresql+psycopg2://csp:csp@127.0.0.1:$PG_PORT/csp}
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT/0}
export ASSETS_PORT HOTSPOTS_PORT PREDICTIVE_PORT
# Each page's header links the other services; one host, so one session cookie reaches all three.
export CSP_ASSETS_URL=${CSP_ASSETS_URL:-http://127.0.0.1:$ASSETS_PORT}
export CSP_HOTSPOTS_URL=${CSP_HOTSPOTS_URL:-http://127.0.0.1:$HOTSPOTS_PORT}
export CSP_PREDICTIVE_URL=${CSP_PREDICTIVE_URL:-http://127.0.0.1:$PREDICTIVE_PORT}
# The local stack uses the development password and eager demo settings: say so explicitly
# (unset means production, which refuses them).
export CSP_ENVIRONMENT=${CSP_ENVIRONMENT:-development}

if [ "$(id -u)" = 0 ]; then
  # PostgreSQL refuses to run as root: keep the cluster where the postgres user can reach it.
  PGDIR=${CSP_PG_DIR:-/var/lib/postgresql/csp-$(printf %s "$ROOT" | md5sum | cut -c1-8)}
  as_pg() { runuser -u postgres -- "$@"; }
else
  PGDIR=${CSP_PG_DIR:-$RUN/pg}
  as_pg() { "$@"; }
fi
PGDATA="$PGDIR/data"
mkdir -p "$RUN/logs" "$RUN/pids"

say() { printf '\033[1m%s\033[0m\n' "$*" >&2; }
sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_system() {
  local need=()
  [ -x "$PGBIN/postgres" ] || need+=(postgresql-15)
  [ -f /usr/share/postgresql/15/extension/postgis.control ] || need+=(postgresql-15-postgis-3)
  command -v redis-server >/dev/null || need+=(redis-server)
  command -v chromium >/dev/null || need+=(chromium)
  command -v ogrinfo >/dev/null || need+=(gdal-bin)
  command -v npm >/dev/null || need+=(nodejs npm)
  command -v pdftotext >/dev/null || need+=(poppler-utils)
  ldconfig -p | grep -q libpangoft2-1.0.so.0 || need+=(libpango-1.0-0 libpangoft2-1.0-0)
  # A real RTSP server for the camera-health tests (GStreamer's, run by the system python3).
  /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer" >/dev/null 2>&1 \
    || need+=(python3-gi python3-numpy gir1.2-gstreamer-1.0 gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-tools)
  command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 || need+=(docker-compose)
  command -v "$PY" >/dev/null || need+=(python3.11 python3.11-venv)
  if [ ${#need[@]} -gt 0 ]; then
    say "installing system packages: ${need[*]}"
    sudo_ apt-get update -qq
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
  # Debian's package starts its own cluster on 5432 where it can; ours is separate and local.
}

install_python() {
  local stamp="$ROOT/.venv/.installed"
  if [ ! -x "$ROOT/.venv/bin/python" ]; then
    say "creating .venv"
    "$PY" -m venv "$ROOT/.venv"
    "$ROOT/.venv/bin/pip" install -q --upgrade pip
  fi
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    say "installing Python packages into .venv"
    "$ROOT/.venv/bin/pip" install -q -e "$ROOT[dev]" >"$RUN/logs/pip.log" 2>&1 || { tail -n 20 "$RUN/logs/pip.log"; exit 1; }
    touch "$stamp"
  fi
}

install_node() {
  # Test-only tools from npm (tests/node): axe-core and oidc-provider, pinned by the lock file.
  local dir="$ROOT/tests/node" stamp="$ROOT/tests/node/node_modules/.installed"
  if [ ! -f "$stamp" ] || [ "$dir/package-lock.json" -nt "$stamp" ]; then
    say "installing test tools from npm into tests/node"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >"$RUN/logs/npm.log" 2>&1) || { tail -n 20 "$RUN/logs/npm.log"; exit 1; }
    touch "$stamp"
  fi
}

pg_running() { as_pg "$PGBIN/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; }

pg_start() {
  if [ ! -f "$PGDATA/PG_VERSION" ]; then
    say "initialising PostGIS cluster in $PGDIR"
    mkdir -p "$PGDIR"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$PGDIR"
    as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
      -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! pg_running; then
    say "starting PostGIS on 127.0.0.1:$PG_PORT"
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDIR/postgres.log" -w -t 60 start \
      -o "-p $PG_PORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=${CSP_PG_FSYNC:-on}" >/dev/null
  fi
  psql=(as_pg psql -h "$PGDIR" -p "$PG_PORT" -U postgres -qtA)
  if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname='csp'")" != 1 ]; then
    "${psql[@]}" -c "CREATE ROLE csp LOGIN SUPERUSER PASSWORD 'csp'" >/dev/null
  fi
  for db in csp csp_test; do
    if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname='$db'")" != 1 ]; then
      "${psql[@]}" -c "CREATE DATABASE $db OWNER csp" >/dev/null
    fi
  done
}

pg_stop() { if pg_running; then as_pg "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null; say "PostGIS stopped"; fi; }

redis_running() { redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; }

redis_start() {
  # A Redis left running from a checkout since deleted cannot write its folder any more and
  # refuses every write (MISCONF): stop it and start this checkout's.
  if redis_running; then
    local dir; dir=$(redis-cli -p "$REDIS_PORT" config get dir 2>/dev/null | sed -n 2p)
    if [ -z "$dir" ] || [ ! -d "$dir" ]; then
      say "Redis on 127.0.0.1:$REDIS_PORT keeps its data in a folder that is gone: restarting it"
      redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
      for _ in $(seq 50); do redis_running || break; sleep 0.1; done
    fi
  fi
  if ! redis_running; then
    say "starting Redis on 127.0.0.1:$REDIS_PORT"
    mkdir -p "$RUN/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --dir "$RUN/redis" \
      --pidfile "$RUN/pids/redis.pid" --logfile "$RUN/logs/redis.log" --appendonly yes >/dev/null
    for _ in $(seq 50); do redis_running && break; sleep 0.1; done
  fi
}

redis_stop() { if redis_running; then redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true; say "Redis stopped"; fi; }

alive() { [ -f "$RUN/pids/$1.pid" ] && kill -0 "$(cat "$RUN/pids/$1.pid")" 2>/dev/null; }

# A pid file whose process is gone: it was started and not stopped by `down`, so it died.
exited() { [ -f "$RUN/pids/$1.pid" ] && ! alive "$1"; }

LOG_KEEP_BYTES=${CSP_LOG_KEEP_BYTES:-52428800}

start_bg() {  # name, command...
  local name=$1; shift
  if alive "$name"; then return 0; fi
  local log="$RUN/logs/$name.log" pidf="$RUN/pids/$name.pid"
  # Logs are appended to, never truncated: a crashed process's last words stay in its log.
  # A log past LOG_KEEP_BYTES moves to <name>.log.1 (the one before it is dropped).
  if [ -f "$log" ] && [ "$(stat -c %s "$log")" -gt "$LOG_KEEP_BYTES" ]; then
    mv -f "$log" "$log.1"
  fi
  if exited "$name"; then
    say "$name (pid $(cat "$pidf")) had exited; restarting it (its output is kept in $log)"
    printf '\n=== %s: %s (pid %s) had exited; restarted ===\n' \
      "$(date -Iseconds)" "$name" "$(cat "$pidf")" >>"$log"
  else
    printf '\n=== %s: %s started ===\n' "$(date -Iseconds)" "$name" >>"$log"
  fi
  # setsid: own process group, so `down` stops the process and its children; no inherited fds.
  cd "$ROOT"
  setsid nohup "$@" >>"$log" 2>&1 </dev/null &
  echo $! >"$pidf"
}

stop_bg() {
  local name=$1
  if alive "$name"; then
    local pid; pid=$(cat "$RUN/pids/$name.pid")
    kill -TERM -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    say "$name stopped"
  fi
  rm -f "$RUN/pids/$name.pid"
}

wait_http() {
  for _ in $(seq 100); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done
  say "warning: $1 did not answer; see $RUN/logs"; return 1
}

csp() { "$ROOT/.venv/bin/csp" "$@"; }

migrate() { (cd "$ROOT" && csp db upgrade head); }

# This checkout runs the local development stack: say so in .env (read by every csp process
# started here), so `.venv/bin/csp token create ...` by hand works like the services do. An
# unset CSP_ENVIRONMENT means production, which refuses the development database password.
local_env() {
  local env="$ROOT/.env"
  if [ ! -f "$env" ] || ! grep -q '^CSP_ENVIRONMENT=' "$env"; then
    printf '# written by make demo: this checkout is a local development stack\nCSP_ENVIRONMENT=development\n' >>"$env"
  fi
}

# A key for the stream credentials the camera health checks keep (Fernet), once per checkout.
credentials_key() {
  local env="$ROOT/.env"
  if ! grep -q '^ASSETS_HEALTH_CREDENTIALS_KEY=' "$env" 2>/dev/null; then
    printf 'ASSETS_HEALTH_CREDENTIALS_KEY=%s\n' \
      "$("$ROOT/.venv/bin/python" -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" >>"$env"
  fi
}

# The demo's simulated cameras (deploy/demo/rtsp_cameras.py, GStreamer, the system python3):
# cam3 black and cam4 stalled, so the health checks have something to find.
cameras_start() {
  if ! /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer" >/dev/null 2>&1; then
    say "no GStreamer RTSP server here: the demo cameras have no streams"; return 0
  fi
  alive cameras || start_bg cameras /usr/bin/python3 "$ROOT/deploy/demo/rtsp_cameras.py" \
    "$CAMERAS_PORT" 6 demo demo-stream-pass --modes cam3=black,cam4=stall --keep-serving
  for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$CAMERAS_PORT") 2>/dev/null && { export CSP_DEMO_RTSP_URL="rtsp://127.0.0.1:$CAMERAS_PORT"; return 0; }
    sleep 0.2
  done
  say "warning: the demo cameras did not start; see $RUN/logs/cameras.log"
}

up() {
  local_env
  install_system; install_python; credentials_key; pg_start; redis_start; migrate
  cameras_start
  (cd "$ROOT" && csp demo load) 2>&1 | tee "$RUN/demo-load.txt"
  start_bg assets "$ROOT/.venv/bin/csp" serve assets --port "$ASSETS_PORT"
  start_bg hotspots "$ROOT/.venv/bin/csp" serve hotspots --port "$HOTSPOTS_PORT"
  start_bg predictive "$ROOT/.venv/bin/csp" serve predictive --port "$PREDICTIVE_PORT"
  start_bg worker "$ROOT/.venv/bin/csp" worker --concurrency 2
  start_bg beat "$ROOT/.venv/bin/csp" beat --schedule "$RUN/celerybeat-schedule"
  local ok=0
  wait_http "http://127.0.0.1:$ASSETS_PORT/healthz" || ok=1
  wait_http "http://127.0.0.1:$HOTSPOTS_PORT/healthz" || ok=1
  wait_http "http://127.0.0.1:$PREDICTIVE_PORT/healthz" || ok=1
  status
  return $ok
}

down() {
  for n in beat worker predictive hotspots assets cameras; do stop_bg "$n"; done
  redis_stop; pg_stop
}

state() {  # running | exited (crashed: see its log) | stopped
  if alive "$1"; then echo running; elif exited "$1"; then echo exited; else echo stopped; fi
}

demo_lists() {  # the crews' lists on the newest day with incident data (the demo made them)
  local found=""
  [ -f "$RUN/demo-load.txt" ] && found=$(grep -o '/targets/page?agency=[a-z0-9_-]*&date=[0-9-]*' "$RUN/demo-load.txt" | sort -u | tr '\n' ' ')
  echo "${found:-/targets/page?agency=kfrs /targets/page?agency=police}"
}

status() {
  local fmt="  %-11s %-8s %s\n"
  printf "\nCSP suite (%s)\n" "$ROOT"
  printf "$fmt" "postgis" "$(pg_running && echo running || echo stopped)" "127.0.0.1:$PG_PORT (data $PGDATA)"
  printf "$fmt" "redis" "$(redis_running && echo running || echo stopped)" "127.0.0.1:$REDIS_PORT"
  for spec in "assets:$ASSETS_PORT:/map /control-room /health-board /ogc /open311/v2/services.json" \
              "hotspots:$HOTSPOTS_PORT:/map /ogc" \
              "predictive:$PREDICTIVE_PORT:$(demo_lists)"; do
    IFS=: read -r n p pages <<<"$spec"
    local st; st=$(state "$n")
    printf "$fmt" "$n" "$st" "http://127.0.0.1:$p/docs"
    for pg in $pages; do printf "$fmt" "" "" "http://127.0.0.1:$p$pg"; done
  done
  printf "$fmt" "worker" "$(state worker)" "celery, logs in .run/logs/worker.log"
  printf "$fmt" "beat" "$(state beat)" "nightly lists 00:05 Europe/London; camera health checks every 5 min; stale hotspot runs swept every 10 min"
  printf "$fmt" "cameras" "$(state cameras)" "simulated RTSP cameras rtsp://127.0.0.1:$CAMERAS_PORT/cam0..cam5 (cam3 black, cam4 stalled) for the health checks"
  printf "\nStart here: http://127.0.0.1:%s/ (sign in once; every service's pages are linked)\n" "$ASSETS_PORT"
  [ -f "$RUN/demo-accounts.txt" ] && printf "Demo accounts (one per role): %s\n" "$RUN/demo-accounts.txt"
  printf "People: .venv/bin/csp user create --username U --role R [--agency kfrs] --name 'Full Name'\n"
  printf "Scripts: .venv/bin/csp token create --role operator --name 'Control room'\n"
}

test_env() { install_system; install_python; install_node; pg_start; redis_start; }

# Sourced (tests call start_bg and friends): define the functions, run nothing.
[ "${BASH_SOURCE[0]}" = "$0" ] || return 0

case "${1:-}" in
  install) install_system; install_python ;;
  db) install_system; pg_start; redis_start ;;
  up) up ;;
  down) down ;;
  status) status ;;
  test-env) test_env ;;
  pg-start) pg_start ;;
  pg-stop) pg_stop ;;
  redis-start) redis_start ;;
  redis-stop) redis_stop ;;
  *) echo "usage: $0 install|db|up|down|status|test-env|pg-start|pg-stop|redis-start|redis-stop" >&2; exit 2 ;;
esac
