#!/usr/bin/env bash
# Installs the built .deb into a fresh, empty root (dpkg --root, no system changes), checks that every package it
# depends on is installable here, and runs the whole WebDriver flow against the installed binary: it must open on
# the sandbox and import the sample. Usage: scripts/smoke-deb.sh [path/to.deb]
set -euo pipefail
cd "$(dirname "$0")/.."
deb=${1:-$(ls -t target/release/bundle/deb/*.deb | head -n 1)}
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" "$root/var/lib/dpkg/triggers"
touch "$root/var/lib/dpkg/status"
echo "==> installing $(basename "$deb") into $root"
dpkg --root="$root" --force-depends --force-not-root --force-script-chrootless --log=/dev/null -i "$deb"
binary="$root/usr/bin/lakedrop-desktop"
test -x "$binary"
echo "==> its dependencies: $(dpkg-deb -f "$deb" Depends)"
for dep in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/(.*)//; s/|.*//' | tr -d ' '); do
  apt-cache show "$dep" >/dev/null 2>&1 || { echo "dependency $dep is not installable here" >&2; exit 1; }
done
test -f "$root/usr/share/applications/Lakedrop.desktop" || { echo "no desktop entry" >&2; exit 1; }
echo "==> the installed app, over WebDriver"
LAKEDROP_E2E_APP_ONLY=1 LAKEDROP_APP="$binary" scripts/e2e.sh
