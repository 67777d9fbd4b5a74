#!/usr/bin/env bash
# The dashboard's third-party scripts, vendored from the npm registry into api/assets/vendor:
# each package is fetched with `npm pack` at the version pinned below, checked against its
# registry integrity (sha512), and the files the dashboard serves are copied with the
# package's licence. The files are committed: building or running chime needs no Node.js;
# this script is only for moving a version (edit the table, run it, commit what changes).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="$ROOT/api/assets/vendor"
# package@version | integrity | files of the package (under package/) to copy
PACKAGES=(
  "htmx.org@2.0.11|sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==|dist/htmx.min.js LICENSE"
  "htmx-ext-sse@2.2.4|sha512-LJmxVhykyflBWgh5PvbRidcyuqMHlgfajmmzumvKctv9puvsufeH6OaejSMZTNTnEI8O2wXXn4ZZtBdpEMqmEQ==|dist/sse.min.js LICENSE"
  "uplot@1.6.32|sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==|dist/uPlot.iife.min.js dist/uPlot.min.css LICENSE"
)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for entry in "${PACKAGES[@]}"; do
  IFS='|' read -r spec integrity files <<<"$entry"
  name="${spec%@*}"
  (cd "$work" && npm pack "$spec" --silent >/dev/null)
  tgz="$(ls "$work"/*.tgz)"
  got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
  if [[ "$got" != "$integrity" ]]; then
    echo "vendor: $spec: integrity $got, expected $integrity" >&2
    exit 1
  fi
  mkdir -p "$work/x" && tar xzf "$tgz" -C "$work/x"
  rm -rf "${DEST:?}/$name" && mkdir -p "$DEST/$name"
  for f in $files; do cp "$work/x/package/$f" "$DEST/$name/"; done
  rm -rf "$work/x" "$tgz"
  echo "vendor: $spec"
done
