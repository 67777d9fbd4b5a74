#!/usr/bin/env bash
# Ensure Redis (127.0.0.1:6379) and RabbitMQ (127.0.0.1:5672) are up for chime.
#
# Idempotent:
#   1. both already answer            -> do nothing;
#   2. a Docker engine is available   -> `docker compose up -d redis rabbitmq`;
#   3. otherwise                      -> install the missing Debian packages
#      (redis-server, rabbitmq-server) and start them directly (no systemd).
# Then waits (bounded) until both answer and makes sure the RabbitMQ `guest`
# user (password `guest`) can log in, which is what the default
# CHIME_AMQP_URL uses.
#
# Environment:
#   CHIME_SERVICES_TIMEOUT  seconds to wait for both services (default 90)
#   CHIME_SERVICES_DOCKER   0 to never use Docker, even when it is available
#   CHIME_REDIS_URL / CHIME_AMQP_URL
#                           when set to anything but the local defaults, the
#                           corresponding service is left alone entirely.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TIMEOUT="${CHIME_SERVICES_TIMEOUT:-90}"
REDIS_PORT=6379
AMQP_PORT=5672
DEFAULT_REDIS_URL="redis://127.0.0.1:6379"
DEFAULT_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/%2f"
export DEBIAN_FRONTEND=noninteractive
# rabbitmq-server / rabbitmqctl live in /usr/sbin, which non-root PATHs may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

log() { printf 'services: %s\n' "$*"; }
die() { printf 'services: ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  fi
fi
as_root() {
  if [[ "$(id -u)" -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
    die "need root for: $* (sudo is not available)"
  fi
  "${SUDO[@]}" "$@"
}

# --- probes -------------------------------------------------------------------

# Redis answers PING with exactly PONG (an error reply such as NOAUTH or
# LOADING does not count).
redis_ok() {
  if command -v redis-cli >/dev/null 2>&1; then
    [[ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" == "PONG" ]]
  else
    # No client installed (e.g. Redis runs in Docker): speak RESP directly.
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 3 bash -c '
      exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
      printf "PING\r\n" >&3
      IFS= read -r line <&3 || exit 1
      [[ "$line" == +PONG* ]]
    ' _ "$REDIS_PORT" 2>/dev/null
  fi
}

# RabbitMQ's AMQP listener answers the protocol header with a Connection.Start
# method frame (frame type 1).
amqp_ok() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
    printf "AMQP\x00\x00\x09\x01" >&3
    IFS= read -r -d "" -n 1 b <&3 || exit 1
    [[ "$b" == $(printf "\x01") ]]
  ' _ "$AMQP_PORT" 2>/dev/null
}

port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

rabbit_node_running() {
  command -v rabbitmq-diagnostics >/dev/null 2>&1 || return 1
  if [[ "$(id -u)" -eq 0 ]]; then
    timeout 20 rabbitmq-diagnostics -q ping >/dev/null 2>&1
  elif [[ ${#SUDO[@]} -gt 0 ]]; then
    timeout 20 sudo -n rabbitmq-diagnostics -q ping >/dev/null 2>&1
  else
    return 1
  fi
}

wait_for() { # name probe
  local name=$1 probe=$2 deadline=$((SECONDS + TIMEOUT))
  until "$probe"; do
    if ((SECONDS >= deadline)); then
      return 1
    fi
    sleep 1
  done
  log "$name is up"
}

# --- what do we manage? -------------------------------------------------------

MANAGE_REDIS=1
MANAGE_AMQP=1
if [[ -n "${CHIME_REDIS_URL:-}" && "${CHIME_REDIS_URL%/}" != "$DEFAULT_REDIS_URL" ]]; then
  log "CHIME_REDIS_URL=$CHIME_REDIS_URL is not the local default; not managing Redis"
  MANAGE_REDIS=0
fi
if [[ -n "${CHIME_AMQP_URL:-}" && "$CHIME_AMQP_URL" != "$DEFAULT_AMQP_URL" ]]; then
  log "CHIME_AMQP_URL is not the local default; not managing RabbitMQ"
  MANAGE_AMQP=0
fi

need_redis=0
need_amqp=0
if ((MANAGE_REDIS)); then
  if redis_ok; then log "Redis already answers on 127.0.0.1:$REDIS_PORT"; else need_redis=1; fi
fi
if ((MANAGE_AMQP)); then
  if amqp_ok; then log "RabbitMQ already answers on 127.0.0.1:$AMQP_PORT"; else need_amqp=1; fi
fi

# --- guest login --------------------------------------------------------------

# rabbitmqctl runner: "local" (Debian package on this host) or "docker".
RABBITMQCTL_MODE=local
COMPOSE=()

rabbitmqctl_run() {
  if [[ "$RABBITMQCTL_MODE" == docker ]]; then
    "${COMPOSE[@]}" exec -T rabbitmq rabbitmqctl "$@"
  elif [[ "$(id -u)" -eq 0 ]]; then
    rabbitmqctl "$@"
  else
    sudo -n rabbitmqctl "$@"
  fi
}

ensure_guest() {
  ((MANAGE_AMQP)) || return 0
  if [[ "$RABBITMQCTL_MODE" == local ]]; then
    command -v rabbitmqctl >/dev/null 2>&1 || {
      log "rabbitmqctl not found; cannot verify the guest user (assuming the broker default)"
      return 0
    }
    if [[ "$(id -u)" -ne 0 ]] && ! sudo -n true 2>/dev/null; then
      log "no passwordless sudo; cannot verify the guest user (assuming the broker default)"
      return 0
    fi
  fi
  if rabbitmqctl_run -q authenticate_user guest guest >/dev/null 2>&1; then
    log "RabbitMQ user guest/guest can log in"
  else
    log "RabbitMQ user guest/guest cannot log in; (re)creating it"
    if ! rabbitmqctl_run -q add_user guest guest >/dev/null 2>&1; then
      rabbitmqctl_run -q change_password guest guest >/dev/null ||
        die "could not set the password of RabbitMQ user guest"
    fi
    rabbitmqctl_run -q set_user_tags guest administrator >/dev/null || true
    rabbitmqctl_run -q set_permissions -p / guest '.*' '.*' '.*' >/dev/null ||
      die "could not grant RabbitMQ user guest access to vhost /"
    log "RabbitMQ user guest/guest (re)created with full access to vhost /"
  fi
  # The broker default only allows guest from loopback, which is where chime
  # connects from; the official Docker image allows it from anywhere.
}

if ((need_redis == 0 && need_amqp == 0)); then
  ensure_guest
  log "nothing to do"
  exit 0
fi

# --- Docker -------------------------------------------------------------------

use_docker=0
if [[ "${CHIME_SERVICES_DOCKER:-1}" != 0 ]] && command -v docker >/dev/null 2>&1 &&
  timeout 15 docker info >/dev/null 2>&1; then
  if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose -f "$ROOT/docker-compose.yml")
    use_docker=1
  elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE=(docker-compose -f "$ROOT/docker-compose.yml")
    use_docker=1
  else
    log "a Docker engine runs but neither 'docker compose' nor 'docker-compose' exists; using packages"
  fi
fi

if ((use_docker)); then
  # Publish the broker ports on the host's loopback (random ports otherwise).
  export CHIME_REDIS_HOST_PORT=$REDIS_PORT CHIME_AMQP_HOST_PORT=$AMQP_PORT
  services=()
  if ((need_redis)); then services+=(redis); fi
  if ((need_amqp)); then services+=(rabbitmq); fi
  for svc in "${services[@]}"; do
    p=$REDIS_PORT
    if [[ "$svc" == rabbitmq ]]; then p=$AMQP_PORT; fi
    if port_open "$p"; then
      die "something already listens on 127.0.0.1:$p but does not answer like $svc; stop it first"
    fi
  done
  log "starting ${services[*]} with: ${COMPOSE[*]} up -d ${services[*]}"
  if ! "${COMPOSE[@]}" up -d --wait "${services[@]}" 2>/dev/null; then
    # Older Compose releases lack --wait; the probes below do the waiting.
    "${COMPOSE[@]}" up -d "${services[@]}"
  fi
  if ((need_amqp)); then RABBITMQCTL_MODE=docker; fi
else
  # --- Debian packages --------------------------------------------------------
  command -v apt-get >/dev/null 2>&1 ||
    die "Redis/RabbitMQ are not reachable, no Docker engine runs and apt-get is missing; start Redis on 127.0.0.1:6379 and RabbitMQ on 127.0.0.1:5672 yourself"
  pkgs=()
  if ((need_redis)) && ! command -v redis-server >/dev/null 2>&1; then pkgs+=(redis-server); fi
  if ((need_amqp)) && ! command -v rabbitmq-server >/dev/null 2>&1; then pkgs+=(rabbitmq-server); fi
  if ((${#pkgs[@]})); then
    log "installing ${pkgs[*]} (apt-get)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
    # The package scripts may have started the services already.
    if ((need_redis)) && redis_ok; then need_redis=0; log "Redis was started by its package"; fi
    if ((need_amqp)) && amqp_ok; then need_amqp=0; log "RabbitMQ was started by its package"; fi
  fi

  if ((need_redis)); then
    if port_open $REDIS_PORT; then
      log "127.0.0.1:$REDIS_PORT is open but Redis does not answer PONG yet; waiting"
    else
      log "starting redis-server on 127.0.0.1:$REDIS_PORT"
      redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" \
        --dir "${TMPDIR:-/tmp}" --save "" --appendonly no >/dev/null
    fi
  fi

  if ((need_amqp)); then
    if rabbit_node_running; then
      log "the RabbitMQ node is running but its AMQP listener is not up yet; waiting"
    else
      log "starting rabbitmq-server (detached)"
      as_root rabbitmq-server -detached >/dev/null 2>&1 ||
        die "rabbitmq-server -detached failed; see /var/log/rabbitmq/"
    fi
  fi
fi

# --- wait ---------------------------------------------------------------------

if ((need_redis)); then
  wait_for Redis redis_ok ||
    die "Redis did not answer PONG on 127.0.0.1:$REDIS_PORT within ${TIMEOUT}s"
fi
if ((need_amqp)); then
  wait_for RabbitMQ amqp_ok ||
    die "RabbitMQ did not accept AMQP connections on 127.0.0.1:$AMQP_PORT within ${TIMEOUT}s (see /var/log/rabbitmq/ or 'docker compose logs rabbitmq')"
fi
ensure_guest
log "Redis and RabbitMQ are ready"
