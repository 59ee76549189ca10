#!/usr/bin/env bash
# Installs what building, running and testing Lakedrop needs on Debian or Ubuntu, skipping what is there.
# Usage: scripts/deps.sh [--test]   (--test adds what only the tests need: Xvfb, WebKitWebDriver, Chromium,
# Python tools)
set -euo pipefail
cd "$(dirname "$0")/.."

# The Rust tools the tests run, at exact versions (scripts/update-tools.sh rewrites these two lines).
CARGO_DENY_VERSION=0.20.2
CARGO_FUZZ_VERSION=0.13.2

packages=(build-essential pkg-config file libssl-dev curl
  libwebkit2gtk-4.1-dev libjavascriptcoregtk-4.1-dev libsoup-3.0-dev libgtk-3-dev
  libayatana-appindicator3-dev librsvg2-dev libxdo-dev fonts-dejavu-core)
if [[ "${1:-}" == "--test" ]]; then
  packages+=(xvfb xauth webkit2gtk-driver imagemagick python3-venv chromium)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> installing ${missing[*]}"
  sudo=""
  [[ "$(id -u)" != 0 ]] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "Rust is missing: install it from https://rustup.rs (Rust 1.95 or newer), then run this again." >&2
  exit 1
fi
if ! command -v npm >/dev/null; then
  echo "Node.js 20 with npm is missing: install it (e.g. apt-get install nodejs npm), then run this again." >&2
  exit 1
fi

# `cargo install --locked` of exactly version $2 of crate $1, unless that version is what `cargo install` last put
# there.
cargo_tool() {
  if ! cargo install --list | grep -qx "$1 v$2:"; then
    echo "==> installing $1 $2"
    cargo install --locked --quiet "$1" --version "$2"
  fi
}

# npm ci only when the lock file changed since the last install.
npm_ci() {
  local dir=$1
  if [[ ! -f "$dir/node_modules/.package-lock.json" || "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
    echo "==> npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_ci ui
if [[ "${1:-}" == "--test" ]]; then
  npm_ci tests/e2e
  # The official FHIR R4 package (definitions and the spec's examples), which the validator's tests read.
  npm_ci crates/validate/gen
  # Independent peers for the tests: the AWS CLI and moto's server, from PyPI, exactly as locked (every package of
  # the venv, with its hashes) in scripts/requirements-test.txt. The venv under target/ is made anew whenever the
  # lock's hash differs from the one recorded at the last install, so every machine runs the same set.
  lock=scripts/requirements-test.txt
  stamp=target/awscli/.lock-sha256
  want=$(sha256sum "$lock" | cut -d' ' -f1)
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "==> installing the AWS CLI and moto from PyPI into target/awscli, as locked in $lock"
    rm -rf target/awscli
    python3 -m venv target/awscli
    target/awscli/bin/pip install -q --disable-pip-version-check --require-hashes --no-deps -r "$lock"
    echo "$want" >"$stamp"
  fi
  # cargo-deny for licenses, bans and sources (advisories need GitHub: `make audit`), and cargo-fuzz for the
  # validator's fuzz target (built with RUSTC_BOOTSTRAP on this stable toolchain). Installed again whenever the
  # installed version is not the pinned one; `make update-tools` moves the pins.
  cargo_tool cargo-deny "$CARGO_DENY_VERSION"
  cargo_tool cargo-fuzz "$CARGO_FUZZ_VERSION"
fi
