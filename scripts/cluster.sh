#!/usr/bin/env bash
# Local chime cluster: 2 schedulers, 2 workers and the API on this machine.
#
#   scripts/cluster.sh            start, create a demo tenant + API key, stay in
#                                 the foreground; Ctrl-C stops every service
#   scripts/cluster.sh --detach   start and return; PIDs go to .chime/pids
#   scripts/cluster.sh --no-build skip `cargo build --release --bins`
#   scripts/cluster.sh stop       stop a detached cluster
#   scripts/cluster.sh status     show the processes of a detached cluster
#
# Logs: .chime/logs/<service>.log. Connection details of the last start:
# .chime/cluster.env (source it).
#
# Environment (besides the CHIME_* settings every service reads):
#   CHIME_ADMIN_TOKEN     admin bearer token; generated and printed when unset
#   CHIME_ALLOW_TARGETS   SSRF allow-list; defaults to 127.0.0.0/8 here so the
#                         demo job may call local endpoints
#   CHIME_API_ADDR        API listen address (default 127.0.0.1:8080)
#   CHIME_OPS_ADDR        health/metrics address of schedulers and workers;
#                         port 0 (default) picks free ports, a fixed port N
#                         gives the instances N, N+1, ...
#   CHIME_SCHEDULERS / CHIME_WORKERS   instance counts (default 2 / 2)
#   CHIME_DEMO_TENANT     name of the demo tenant (default demo)
#   CHIME_READY_TIMEOUT   seconds to wait for the API's /readyz (default 60)
#   CHIME_STOP_TIMEOUT    seconds to wait for a graceful stop before SIGKILL
#                         (default 45; services drain in-flight runs for 30 s)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STATE="$ROOT/.chime"
LOGS="$STATE/logs"
PIDS="$STATE/pids"
ENV_FILE="$STATE/cluster.env"
STOP_TIMEOUT="${CHIME_STOP_TIMEOUT:-45}"
READY_TIMEOUT="${CHIME_READY_TIMEOUT:-60}"

log() { printf 'cluster: %s\n' "$*"; }
die() { printf 'cluster: ERROR: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

# --- process bookkeeping ------------------------------------------------------

NAMES=()
PIDLIST=()

# True while $1 is a live (non-zombie) chime process; guards against PID reuse.
is_ours() {
  local pid=$1 stat comm
  kill -0 "$pid" 2>/dev/null || return 1
  stat="$(ps -o stat= -p "$pid" 2>/dev/null)" || return 1
  [[ "$stat" != Z* ]] || return 1
  comm="$(ps -o comm= -p "$pid" 2>/dev/null)" || return 1
  [[ "$comm" == chime-* ]]
}

stop_all() {
  local i deadline alive
  for i in "${!PIDLIST[@]}"; do
    if is_ours "${PIDLIST[i]}"; then
      kill -TERM "${PIDLIST[i]}" 2>/dev/null || true
    fi
  done
  deadline=$((SECONDS + STOP_TIMEOUT))
  while :; do
    alive=()
    for i in "${!PIDLIST[@]}"; do
      if is_ours "${PIDLIST[i]}"; then alive+=("$i"); fi
    done
    if ((${#alive[@]} == 0)); then
      break
    fi
    if ((SECONDS >= deadline)); then
      for i in "${alive[@]}"; do
        log "${NAMES[i]} (pid ${PIDLIST[i]}) did not stop within ${STOP_TIMEOUT}s; killing it"
        kill -KILL "${PIDLIST[i]}" 2>/dev/null || true
      done
      break
    fi
    sleep 0.5
  done
  log "all services stopped"
}

load_pids() {
  local name pid
  [[ -f "$PIDS" ]] || return 1
  while read -r name pid; do
    [[ -n "${name:-}" && "${pid:-}" =~ ^[0-9]+$ ]] || continue
    NAMES+=("$name")
    PIDLIST+=("$pid")
  done <"$PIDS"
}

running_count() {
  local n=0 pid
  for pid in "${PIDLIST[@]}"; do
    if is_ours "$pid"; then n=$((n + 1)); fi
  done
  echo "$n"
}

api_url_from_addr() { # host:port -> http URL reachable from this machine
  local addr=$1 host port
  host="${addr%:*}"
  port="${addr##*:}"
  case "$host" in
    0.0.0.0 | "") host=127.0.0.1 ;;
    "[::]") host="[::1]" ;;
  esac
  printf 'http://%s:%s' "$host" "$port"
}

# --- subcommands --------------------------------------------------------------

DETACH=0
BUILD=1
case "${1:-}" in
  stop)
    if ! load_pids; then
      log "no detached cluster (${PIDS#"$ROOT"/} is missing)"
      exit 0
    fi
    log "stopping ${NAMES[*]}"
    stop_all
    rm -f "$PIDS"
    exit 0
    ;;
  status)
    if ! load_pids; then
      log "no detached cluster (${PIDS#"$ROOT"/} is missing)"
      exit 1
    fi
    for i in "${!PIDLIST[@]}"; do
      if is_ours "${PIDLIST[i]}"; then s=running; else s=gone; fi
      printf '  %-12s pid %-8s %s\n' "${NAMES[i]}" "${PIDLIST[i]}" "$s"
    done
    url="$(api_url_from_addr "${CHIME_API_ADDR:-127.0.0.1:8080}")"
    printf '  %-12s %s/readyz -> %s\n' api "$url" \
      "$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$url/readyz" || true)"
    [[ "$(running_count)" -eq "${#PIDLIST[@]}" ]]
    exit
    ;;
  -h | --help | help)
    usage
    exit 0
    ;;
esac
for arg in "$@"; do
  case "$arg" in
    --detach | -d) DETACH=1 ;;
    --no-build) BUILD=0 ;;
    *) usage >&2; die "unknown argument: $arg" ;;
  esac
done

command -v curl >/dev/null 2>&1 || die "curl is required"

if load_pids && [[ "$(running_count)" -gt 0 ]]; then
  die "a detached cluster is already running (scripts/cluster.sh status|stop)"
fi
NAMES=()
PIDLIST=()
rm -f "$PIDS"

export CHIME_API_ADDR="${CHIME_API_ADDR:-127.0.0.1:8080}"
API_URL="$(api_url_from_addr "$CHIME_API_ADDR")"
export CHIME_PUBLIC_URL="${CHIME_PUBLIC_URL:-$API_URL}"
export CHIME_ALLOW_TARGETS="${CHIME_ALLOW_TARGETS-127.0.0.0/8}"
if curl -s -o /dev/null --max-time 2 "$API_URL/healthz"; then
  die "something already answers on $API_URL; stop it or set CHIME_API_ADDR"
fi

# --- dependencies and binaries ------------------------------------------------

bash "$ROOT/scripts/services.sh"

if ((BUILD)); then
  log "building release binaries (cargo build --release --bins)"
  cargo build --release --bins
fi
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
if command -v python3 >/dev/null 2>&1; then
  TARGET_DIR="$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])' 2>/dev/null ||
    echo "$TARGET_DIR")"
fi
BIN="$TARGET_DIR/release"
for b in chime-scheduler chime-worker chime-api; do
  [[ -x "$BIN/$b" ]] || die "$BIN/$b is missing; run without --no-build"
done

if [[ -z "${CHIME_ADMIN_TOKEN:-}" ]]; then
  CHIME_ADMIN_TOKEN="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  log "generated CHIME_ADMIN_TOKEN=$CHIME_ADMIN_TOKEN"
fi
export CHIME_ADMIN_TOKEN

# --- start --------------------------------------------------------------------

mkdir -p "$LOGS"

cleanup() {
  trap - INT TERM EXIT
  if ((${#PIDLIST[@]})); then
    log "stopping ${NAMES[*]}"
    stop_all
  fi
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap cleanup EXIT

OPS_HOST=127.0.0.1
OPS_PORT=0
if [[ -n "${CHIME_OPS_ADDR:-}" ]]; then
  OPS_HOST="${CHIME_OPS_ADDR%:*}"
  OPS_PORT="${CHIME_OPS_ADDR##*:}"
fi
OPS_NEXT=0

start() { # name binary
  local name=$1 bin=$2 logf="$LOGS/$1.log" ops="$OPS_HOST:0"
  if [[ "$bin" != chime-api && "$OPS_PORT" != 0 ]]; then
    ops="$OPS_HOST:$((OPS_PORT + OPS_NEXT))"
    OPS_NEXT=$((OPS_NEXT + 1))
  fi
  : >"$logf"
  # setsid: Ctrl-C reaches only this script, which then stops the services in
  # order; a detached cluster also survives the terminal.
  if command -v setsid >/dev/null 2>&1; then
    CHIME_OPS_ADDR="$ops" setsid "$BIN/$bin" </dev/null >>"$logf" 2>&1 &
  else
    CHIME_OPS_ADDR="$ops" "$BIN/$bin" </dev/null >>"$logf" 2>&1 &
  fi
  NAMES+=("$name")
  PIDLIST+=("$!")
  log "started $name (pid $!, log ${logf#"$ROOT"/})"
}

for i in $(seq 1 "${CHIME_SCHEDULERS:-2}"); do start "scheduler-$i" chime-scheduler; done
for i in $(seq 1 "${CHIME_WORKERS:-2}"); do start "worker-$i" chime-worker; done
start api chime-api

# A service that exits early: show why and give up (the EXIT trap stops the rest).
check_alive() {
  local i
  for i in "${!PIDLIST[@]}"; do
    if ! is_ours "${PIDLIST[i]}"; then
      local rc=0
      wait "${PIDLIST[i]}" 2>/dev/null || rc=$?
      printf 'cluster: ERROR: %s (pid %s) exited with status %s; from %s:\n' \
        "${NAMES[i]}" "${PIDLIST[i]}" "$rc" "${LOGS#"$ROOT"/}/${NAMES[i]}.log" >&2
      # The error lines if there are any (a backtrace may follow them), else the tail.
      grep -m 10 -E '^Error:|ERROR|panicked at' "$LOGS/${NAMES[i]}.log" >&2 ||
        tail -n 20 "$LOGS/${NAMES[i]}.log" >&2 || true
      return 1
    fi
  done
}

log "waiting for $API_URL/readyz (up to ${READY_TIMEOUT}s)"
deadline=$((SECONDS + READY_TIMEOUT))
until curl -fs -o /dev/null --max-time 2 "$API_URL/readyz"; do
  check_alive || exit 1
  if ((SECONDS >= deadline)); then
    die "the API did not become ready within ${READY_TIMEOUT}s; see ${LOGS#"$ROOT"/}/api.log"
  fi
  sleep 0.5
done
log "API is ready"

# --- demo tenant and key ------------------------------------------------------

json_get() { # key < json
  if command -v python3 >/dev/null 2>&1; then
    python3 -c '
import json, sys
try:
    print(json.load(sys.stdin).get(sys.argv[1], ""))
except Exception:
    pass
' "$1"
  else
    sed -n 's/.*"'"$1"'"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' | head -n 1
  fi
}

RESP_BODY=""
RESP_CODE=""
admin_post() { # path json
  local out
  out="$(curl -sS --max-time 10 -X POST "$API_URL$1" \
    -H "Authorization: Bearer $CHIME_ADMIN_TOKEN" \
    -H 'Content-Type: application/json' \
    --data "$2" -w '\n%{http_code}')" || return 1
  RESP_CODE="${out##*$'\n'}"
  RESP_BODY="${out%$'\n'*}"
}

tenant_name="${CHIME_DEMO_TENANT:-demo}"
admin_post /admin/tenants "{\"name\":\"$tenant_name\"}" || die "cannot reach $API_URL/admin/tenants"
if [[ "$RESP_CODE" != 201 ]]; then
  # e.g. the name is taken by an earlier run against the same Redis
  tenant_name="$tenant_name-$(date +%s)"
  admin_post /admin/tenants "{\"name\":\"$tenant_name\"}" || die "cannot reach $API_URL/admin/tenants"
fi
[[ "$RESP_CODE" == 201 ]] || die "creating tenant failed: HTTP $RESP_CODE $RESP_BODY"
TENANT_ID="$(json_get id <<<"$RESP_BODY")"
[[ -n "$TENANT_ID" ]] || die "no tenant id in: $RESP_BODY"

admin_post "/admin/tenants/$TENANT_ID/keys" '{"scopes":["read","write","run-update"]}' ||
  die "cannot reach $API_URL/admin/tenants/$TENANT_ID/keys"
[[ "$RESP_CODE" == 201 ]] || die "creating an API key failed: HTTP $RESP_CODE $RESP_BODY"
TOKEN="$(json_get token <<<"$RESP_BODY")"
[[ -n "$TOKEN" ]] || die "no token in: $RESP_BODY"

umask 077
cat >"$ENV_FILE" <<EOF
export CHIME_URL=$API_URL
export CHIME_TOKEN=$TOKEN
export CHIME_ADMIN_TOKEN=$CHIME_ADMIN_TOKEN
EOF

JOB_JSON="{\"name\":\"hello\",\"description\":\"demo\",\"action\":\"$API_URL/healthz\",\"active\":true,\"httpMethod\":\"GET\",\"schedules\":[{\"repeatInterval\":\"5 seconds\",\"active\":true,\"description\":\"every 5 s\"}]}"

cat <<EOF

chime is running
  API            $API_URL   (logs in ${LOGS#"$ROOT"/}/)
  admin token    $CHIME_ADMIN_TOKEN
  tenant         $tenant_name (id $TENANT_ID)
  API key        $TOKEN
                 scopes: read, write, run-update

Set up your shell (also saved in ${ENV_FILE#"$ROOT"/}):
  export CHIME_URL=$API_URL CHIME_TOKEN=$TOKEN

Create a demo job that calls the API's own /healthz every 5 seconds:
  curl -sS -X POST "\$CHIME_URL/scheduler/jobs" -H "Authorization: Bearer \$CHIME_TOKEN" -H 'Content-Type: application/json' -d '$JOB_JSON'

Then read its run log (use "_id" and schedules[0].scheduleId from the answer):
  curl -sS "\$CHIME_URL/scheduler/jobs/<jobId>/schedules/<scheduleId>/runs?page_size=10&offset=0" -H "Authorization: Bearer \$CHIME_TOKEN"

Or in a browser: $API_URL/ui (sign in with the API key above, or the admin token).

Or with the command line (the same URL and token from the environment):
  $BIN/chime jobs list
  $BIN/chime runs list hello

EOF

if ((DETACH)); then
  for i in "${!PIDLIST[@]}"; do
    printf '%s %s\n' "${NAMES[i]}" "${PIDLIST[i]}"
  done >"$PIDS"
  trap - INT TERM EXIT
  log "detached; PIDs in ${PIDS#"$ROOT"/}; stop with: scripts/cluster.sh stop"
  exit 0
fi

log "running in the foreground; press Ctrl-C to stop"
while :; do
  sleep 1
  check_alive || exit 1
done
