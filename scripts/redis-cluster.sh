#!/usr/bin/env bash
# A local Redis Cluster of three masters on loopback, for chime's tests and benchmarks.
#
#   scripts/redis-cluster.sh start    start it (idempotent) and print the seed URLs
#   scripts/redis-cluster.sh stop     stop it and remove its data
#   scripts/redis-cluster.sh urls     print the seed URLs (comma-separated)
#
# Point chime at it with:
#   CHIME_REDIS_CLUSTER=true CHIME_REDIS_URL="$(scripts/redis-cluster.sh urls)"
#
# Environment:
#   CHIME_REDIS_CLUSTER_PORT  the first node's port (default 7101; the others follow)
#   CHIME_REDIS_CLUSTER_DIR   where the nodes keep their files (default /tmp/chime-redis-cluster)
# Needs redis-server and redis-cli (Debian's redis-server package; scripts/services.sh
# installs it when Redis is missing).
set -euo pipefail

BASE="${CHIME_REDIS_CLUSTER_PORT:-7101}"
DIR="${CHIME_REDIS_CLUSTER_DIR:-/tmp/chime-redis-cluster}"
PORTS=("$BASE" "$((BASE + 1))" "$((BASE + 2))")

log() { printf 'redis-cluster: %s\n' "$*" >&2; }
die() { printf 'redis-cluster: ERROR: %s\n' "$*" >&2; exit 1; }

urls() {
  local out=() p
  for p in "${PORTS[@]}"; do out+=("redis://127.0.0.1:$p"); done
  (IFS=,; echo "${out[*]}")
}

ping() { [[ "$(timeout 2 redis-cli -p "$1" ping 2>/dev/null)" == "PONG" ]]; }

cluster_ok() {
  timeout 2 redis-cli -p "${PORTS[0]}" cluster info 2>/dev/null | grep -q '^cluster_state:ok'
}

start() {
  command -v redis-server >/dev/null || die "redis-server is not installed"
  if cluster_ok; then
    log "already running on ports ${PORTS[*]}"
    urls
    return
  fi
  local p
  for p in "${PORTS[@]}"; do
    if ping "$p"; then
      continue
    fi
    rm -rf "${DIR:?}/$p"
    mkdir -p "$DIR/$p"
    redis-server --port "$p" --bind 127.0.0.1 --daemonize yes \
      --cluster-enabled yes --cluster-config-file "$DIR/$p/nodes.conf" \
      --cluster-node-timeout 2000 --save "" --appendonly no \
      --dir "$DIR/$p" --logfile "$DIR/$p/redis.log" --pidfile "$DIR/$p/redis.pid"
  done
  for p in "${PORTS[@]}"; do
    for _ in $(seq 50); do ping "$p" && break; sleep 0.1; done
    ping "$p" || die "node $p did not start (see $DIR/$p/redis.log)"
  done
  local nodes=()
  for p in "${PORTS[@]}"; do nodes+=("127.0.0.1:$p"); done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >/dev/null
  for _ in $(seq 100); do cluster_ok && break; sleep 0.1; done
  cluster_ok || die "the cluster did not reach state ok"
  log "three masters on ports ${PORTS[*]}"
  urls
}

stop() {
  local p
  for p in "${PORTS[@]}"; do
    if ping "$p"; then
      redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
    fi
  done
  rm -rf "${DIR:?}"
  log "stopped"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  urls) urls ;;
  *) die "usage: $0 start|stop|urls" ;;
esac
