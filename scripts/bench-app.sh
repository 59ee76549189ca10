#!/usr/bin/env bash
# Release bundles and the numbers that describe them: .deb/.rpm size, installed binary size, launch → interactive
# window, launch → validation summary of the 10-patient sample, idle memory; then big inputs in the real app
# (1,000 flawed files, a million rejected lines, a 2 GB file): time to the summary against `lakedrop validate`,
# and the longest frame while checking against the idle window's. Builds the release bundle and CLI unless
# LAKEDROP_SKIP_BUILD=1; the big inputs (2.1 GB) are written once under target/bench-big/.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${LAKEDROP_SKIP_BUILD:-}" != "1" ]]; then
  (cd src-tauri && ../ui/node_modules/.bin/tauri build --bundles deb,rpm)
  cargo build --release -p lakedrop-cli
fi
deb=$(ls -t target/release/bundle/deb/*.deb | head -n 1)
rpm=$(ls -t target/release/bundle/rpm/*.rpm | head -n 1)
mib() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.2f MiB", b / 1048576 }'; }
echo "installer: $(basename "$deb") $(mib "$deb") (target < 20 MB); $(basename "$rpm") $(mib "$rpm")"
echo "installed binary: target/release/lakedrop-desktop $(mib target/release/lakedrop-desktop)"
cd tests/e2e
LAKEDROP_APP="$PWD/../../target/release/lakedrop-desktop" \
  xvfb-run -a -s "-screen 0 1280x800x24" timeout 600 node startup.bench.mjs
big="$PWD/../../target/bench-big"
python3 ../../scripts/big-inputs.py "$big" "$PWD/../../samples/synthea-10-patients"
LAKEDROP_APP="$PWD/../../target/release/lakedrop-desktop" LAKEDROP_CLI="$PWD/../../target/release/lakedrop" \
  xvfb-run -a -s "-screen 0 1280x800x24" timeout 1800 node bigdata.bench.mjs \
  "1,000 flawed files=$big/thousand" "a million rejected lines=$big/million" "a 2 GB file=$big/2gb"
