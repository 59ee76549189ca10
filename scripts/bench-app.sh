#!/usr/bin/env bash
# Release bundles and the numbers that describe them: .deb/.rpm size, installed binary size, launch → interactive
# window, launch → validation summary of the 10-patient sample, idle memory. Builds the release bundle unless
# LAKEDROP_SKIP_BUILD=1.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${LAKEDROP_SKIP_BUILD:-}" != "1" ]]; then
  (cd src-tauri && ../ui/node_modules/.bin/tauri build --bundles deb,rpm)
fi
deb=$(ls -t target/release/bundle/deb/*.deb | head -n 1)
rpm=$(ls -t target/release/bundle/rpm/*.rpm | head -n 1)
mib() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
echo "installer: $(basename "$deb") $(mib "$deb") (target < 20 MB); $(basename "$rpm") $(mib "$rpm")"
echo "installed binary: target/release/lakedrop-desktop $(mib target/release/lakedrop-desktop)"
cd tests/e2e
LAKEDROP_APP="$PWD/../../target/release/lakedrop-desktop" \
  xvfb-run -a -s "-screen 0 1280x800x24" timeout 600 node startup.bench.mjs
