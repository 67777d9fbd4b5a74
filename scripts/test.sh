#!/usr/bin/env bash
# Run the whole test suite: make sure Redis and RabbitMQ are up on 127.0.0.1
# (scripts/services.sh), the Node.js clients installed (scripts/node-clients.sh) and headless
# Chromium with its WebDriver for the dashboard's tests (scripts/browser.sh), then `cargo test --workspace`; then, for a whole run
# (no extra arguments), the suite's modules whose code paths read or write the
# store's keys and scripts (store, dialects, run log, failover, delivery, quotas,
# shards, time, run now, lifecycles, tails, secrets, e2e, retries, overlap, the
# asynchronous deadline, signing, notifications, the operations view, dead letters) again with the store on a
# local three-master Redis Cluster (scripts/redis-cluster.sh, stopped afterwards);
# the API's edges, guards, OpenAPI, capacity, faults, shutdown, the dashboard (its sessions are
# single keys; its reads are the API's, covered above) and the workspace
# rules do not depend on the store's topology and run once. Extra arguments go to
# cargo test, e.g. `scripts/test.sh -p chime-core` or `scripts/test.sh -- --nocapture`.
# CHIME_TEST_REDIS_CLUSTER=0 skips the cluster pass; =1 runs it with extra arguments too.
# The tests use their own Redis/RabbitMQ namespaces, so a running cluster is
# not disturbed. Exit code: the first failing pass's.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/services.sh
bash scripts/node-clients.sh
bash scripts/browser.sh

locked=()
if [[ -f Cargo.lock ]]; then
  locked=(--locked)
fi
echo "test: cargo test --workspace --no-fail-fast ${locked[*]} $*"
status=0
# The chaos suite (tests/tests/chaos) writes its table here; shown when it ran.
table="${CARGO_TARGET_DIR:-target}/tmp/chaos-latest.md"
rm -f "$table"
cargo test --workspace --no-fail-fast "${locked[@]}" "$@" || status=$?
if [[ -f "$table" ]]; then
  echo "test: the chaos suite's table"
  cat "$table"
fi

cluster="${CHIME_TEST_REDIS_CLUSTER:-}"
if [[ -z "$cluster" ]]; then
  cluster=$([[ $# -eq 0 ]] && echo 1 || echo 0)
fi
if [[ "$cluster" == 1 ]]; then
  seeds="$(bash scripts/redis-cluster.sh start)"
  echo "test: the suite on a Redis Cluster ($seeds)"
  cluster_status=0
  modules=(store:: dialects:: runlog:: failover:: delivery:: quota:: shards:: timing:: runnow::
    lifecycle:: lifecycle_completion:: tails:: secrets:: e2e:: retries:: overlap:: async_deadline::
    signing:: notifications:: operations:: dead_letters::)
  # The suite's binary as the workspace build made it (`cargo test --test suite` alone would
  # build every crate again: its features unify differently), run from its package's folder as
  # cargo runs it.
  suite=$(cargo test --workspace --no-run "${locked[@]}" --message-format=json 2>/dev/null |
    grep -o '"executable":"[^"]*/suite-[^"]*"' | tail -n 1 | cut -d '"' -f 4 || true)
  if [[ -n "$suite" && -x "$suite" ]]; then
    (cd tests && CHIME_REDIS_CLUSTER=true CHIME_REDIS_URL="$seeds" "$suite" "${modules[@]}") ||
      cluster_status=$?
  else
    CHIME_REDIS_CLUSTER=true CHIME_REDIS_URL="$seeds" \
      cargo test --workspace --test suite --no-fail-fast "${locked[@]}" -- "${modules[@]}" ||
      cluster_status=$?
  fi
  [[ $status -ne 0 ]] || status=$cluster_status
  bash scripts/redis-cluster.sh stop
fi
exit "$status"
