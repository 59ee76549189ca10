#!/usr/bin/env bash
# Sets up what is missing, builds Lakedrop and launches it on the seeded sandbox; without a display, runs the
# same import headless with the CLI. Debug builds: they share the cache with `make test` and start at once.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh

sample="${LAKEDROP_SAMPLE:-samples/synthea-10-patients}"
if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  echo "==> building the desktop app"
  (cd ui && npm run build --silent)
  cargo build -p lakedrop-desktop --features custom-protocol
  echo "==> launching Lakedrop (sandbox data in ${LAKEDROP_DATA_DIR:-~/.local/share/lakedrop})"
  args=()
  [[ -d "$sample" ]] && args+=("$sample")
  exec target/debug/lakedrop-desktop "${args[@]}"
else
  echo "==> no display: running a headless import on the embedded sandbox with the CLI"
  cargo build -p lakedrop-cli
  if [[ ! -d "$sample" ]]; then
    echo "No sample data at $sample; set LAKEDROP_SAMPLE to a folder of FHIR .ndjson files." >&2
    exit 2
  fi
  exec target/debug/lakedrop import "$sample" --sandbox --wait
fi
