#!/usr/bin/env bash
# The browser the dashboard's tests drive (tests/tests/suite/dashboard): headless Chromium
# through WebDriver. Installs Debian's chromium and chromium-driver when /usr/bin/chromium or
# /usr/bin/chromedriver is missing. Idempotent.
set -euo pipefail

log() { printf 'browser: %s\n' "$*"; }
as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || { log "chromium and chromium-driver are missing and apt-get is too; install them"; exit 1; }
log "installing chromium chromium-driver (apt-get)"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
log "$(/usr/bin/chromium --version 2>/dev/null || echo 'chromium installed')"
