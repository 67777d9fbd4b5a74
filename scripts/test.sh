#!/usr/bin/env bash
# Run the whole test suite: make sure Redis and RabbitMQ are up on 127.0.0.1
# (scripts/services.sh), then `cargo test --workspace`. Extra arguments go to
# cargo test, e.g. `scripts/test.sh -p chime-core` or `scripts/test.sh -- --nocapture`.
# The tests use their own Redis/RabbitMQ namespaces, so a running cluster is
# not disturbed. Exit code: cargo's.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/services.sh

locked=()
if [[ -f Cargo.lock ]]; then
  locked=(--locked)
fi
echo "test: cargo test --workspace --no-fail-fast ${locked[*]} $*"
exec cargo test --workspace --no-fail-fast "${locked[@]}" "$@"
