#!/usr/bin/env bash
# A local RabbitMQ cluster of three nodes on loopback, for chime's node-loss test.
#
#   scripts/rabbitmq-cluster.sh start        start it (idempotent) and print the AMQP URLs
#   scripts/rabbitmq-cluster.sh stop         stop every node and remove their data (logs kept in <dir>.logs)
#   scripts/rabbitmq-cluster.sh urls         print the AMQP URLs (comma-separated)
#   scripts/rabbitmq-cluster.sh kill N       kill -9 node N (1, 2 or 3)
#   scripts/rabbitmq-cluster.sh restart N    start node N again (it rejoins the cluster)
#   scripts/rabbitmq-cluster.sh single       start node 1 alone (a private broker to kill and
#                                            restart) and print its AMQP URL
#
# The nodes are chime1@localhost … chime3@localhost (CHIME_RABBITMQ_CLUSTER_NAME replaces
# "chime"), AMQP on ports 5681-5683 (CHIME_RABBITMQ_CLUSTER_PORT moves the first), each with
# its own data under /tmp/chime-rabbitmq-cluster (CHIME_RABBITMQ_CLUSTER_DIR), beside (not in)
# the RabbitMQ the machine runs. Point chime at it with
#   CHIME_AMQP_URL="$(scripts/rabbitmq-cluster.sh urls)"
# Needs Debian's rabbitmq-server (scripts/services.sh installs it when RabbitMQ is missing).
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

BASE="${CHIME_RABBITMQ_CLUSTER_PORT:-5681}"
DIR="${CHIME_RABBITMQ_CLUSTER_DIR:-/tmp/chime-rabbitmq-cluster}"
NAME="${CHIME_RABBITMQ_CLUSTER_NAME:-chime}"

log() { printf 'rabbitmq-cluster: %s\n' "$*" >&2; }
die() { printf 'rabbitmq-cluster: ERROR: %s\n' "$*" >&2; exit 1; }

node() { echo "$NAME$1@localhost"; }
port() { echo "$((BASE + $1 - 1))"; }
ctl() { local n=$1; shift; rabbitmqctl -q -n "$(node "$n")" "$@"; }
running() { ctl "$1" ping >/dev/null 2>&1; }

urls() {
  local out=() n
  for n in 1 2 3; do out+=("amqp://guest:guest@127.0.0.1:$(port "$n")/%2f"); done
  (IFS=,; echo "${out[*]}")
}

# The service scripts run RabbitMQ as its own user when started by root.
owner() {
  if [[ "$(id -u)" -eq 0 ]] && id rabbitmq >/dev/null 2>&1; then
    chown -R rabbitmq:rabbitmq "$DIR"
  fi
}

start_node() {
  local n=$1 d="$DIR/$1"
  running "$n" && return
  mkdir -p "$d"
  printf 'listeners.tcp.local = 127.0.0.1:%s\nloopback_users = none\n' "$(port "$n")" >"$d/rabbitmq.conf"
  echo '[].' >"$d/enabled_plugins"
  owner
  RABBITMQ_NODENAME="$(node "$n")" RABBITMQ_NODE_PORT="$(port "$n")" \
    RABBITMQ_DIST_PORT="$((20000 + $(port "$n")))" \
    RABBITMQ_CONFIG_FILE="$d/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$d/enabled_plugins" \
    RABBITMQ_MNESIA_BASE="$d/mnesia" RABBITMQ_LOG_BASE="$d/log" RABBITMQ_PID_FILE="$d/pid" \
    rabbitmq-server -detached >/dev/null 2>&1
  ctl "$n" wait --timeout 60 "$d/pid" >/dev/null 2>&1 || die "node $n did not start (see $d/log)"
}

start() {
  command -v rabbitmq-server >/dev/null || die "rabbitmq-server is not installed"
  local n
  for n in 1 2 3; do start_node "$n"; done
  for n in 2 3; do
    if ! ctl "$n" cluster_status 2>/dev/null | grep -q "$(node 1)"; then
      ctl "$n" stop_app >/dev/null 2>&1
      ctl "$n" reset >/dev/null 2>&1
      ctl "$n" join_cluster "$(node 1)" >/dev/null 2>&1
      ctl "$n" start_app >/dev/null 2>&1
    fi
  done
  ctl 1 await_online_nodes 3 --timeout 60 >/dev/null 2>&1 || die "the nodes did not join"
  log "three nodes on ports $(port 1)-$(port 3)"
  urls
}

kill_node() {
  local pidfile="$DIR/$1/pid"
  [[ -f "$pidfile" ]] || die "node $1 has no pid file"
  kill -9 "$(cat "$pidfile")" 2>/dev/null || true
  log "killed node $1"
}

stop() {
  local n
  for n in 1 2 3; do
    if [[ -f "$DIR/$n/pid" ]]; then
      kill -9 "$(cat "$DIR/$n/pid")" 2>/dev/null || true
    fi
  done
  # The nodes' logs outlive them, for a look at what a test saw.
  rm -rf "${DIR:?}.logs"
  mkdir -p "$DIR.logs"
  for n in 1 2 3; do
    if [[ -d "$DIR/$n/log" ]]; then cp -r "$DIR/$n/log" "$DIR.logs/$n"; fi
  done
  rm -rf "${DIR:?}"
  log "stopped (logs kept in $DIR.logs)"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  urls) urls ;;
  kill) kill_node "${2:?node number}" ;;
  restart) start_node "${2:?node number}" ;;
  single)
    command -v rabbitmq-server >/dev/null || die "rabbitmq-server is not installed"
    start_node 1
    echo "amqp://guest:guest@127.0.0.1:$(port 1)/%2f"
    ;;
  *) die "usage: $0 start|stop|urls|kill N|restart N|single" ;;
esac
