#!/usr/bin/env bash
# The real JavaScript clients the suite runs against a live API (tests/node: SAP's
# @sap/jobs-client), and Node.js for them and for the signing tests' verifier: installs
# Node.js and npm (Debian packages) when missing, then the clients from tests/node's lock
# file when they are not installed yet.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf 'node-clients: %s\n' "$*"; }
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || { log "Node.js and npm are missing and apt-get is too; install them"; exit 1; }
  log "installing nodejs npm (apt-get)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

dir="$ROOT/tests/node"
if [[ ! -d "$dir/node_modules/@sap/jobs-client" || "$dir/package-lock.json" -nt "$dir/node_modules" ]]; then
  log "npm ci in tests/node"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
fi
