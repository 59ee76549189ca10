#!/usr/bin/env bash
# Installs what building, running and testing Lakedrop needs on Debian or Ubuntu, skipping what is there.
# Usage: scripts/deps.sh [--test]   (--test adds what only the tests need: Xvfb, WebKitWebDriver, Chromium,
# Python tools)
set -euo pipefail
cd "$(dirname "$0")/.."

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
  # Independent peers for the tests: the AWS CLI and moto's server, from PyPI, in a venv under target/.
  if [[ ! -x target/awscli/bin/aws || ! -x target/awscli/bin/moto_server ]]; then
    echo "==> installing the AWS CLI and moto from PyPI into target/awscli"
    python3 -m venv target/awscli
    target/awscli/bin/pip install -q --disable-pip-version-check awscli 'moto[server]'
  fi  # cargo-deny for licenses, bans and sources (advisories need GitHub: `make audit`).
  if ! command -v cargo-deny >/dev/null; then
    echo "==> installing cargo-deny"
    cargo install --locked --quiet cargo-deny --version 0.20.2
  fi
  # cargo-fuzz for the validator's fuzz target (built with RUSTC_BOOTSTRAP on this stable toolchain).
  if ! command -v cargo-fuzz >/dev/null; then
    echo "==> installing cargo-fuzz"
    cargo install --locked --quiet cargo-fuzz --version 0.13.2
  fi
fi
