#!/usr/bin/env bash
# Moves every pinned tool to its newest release, deliberately, then runs every test with the new set:
# - the PyPI lock (scripts/requirements-test.txt) is resolved again from scripts/requirements-test.in, with hashes,
#   by uv at the exact version below (in a throwaway venv under target/);
# - cargo-deny and cargo-fuzz move to the newest version `cargo info` offers for this workspace's Rust version,
#   written into scripts/deps.sh;
# - the npm packages of ui/ and tests/e2e/ move within their package.json ranges (`npm update` rewrites
#   package-lock.json; exact pins such as @tauri-apps/cli stay).
# deps.sh, called by `make test`, then installs what the pins now say. Review the diff and commit it.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.8
if [[ "$(target/uv/bin/uv --version 2>/dev/null)" != "uv $UV_VERSION"* ]]; then
  rm -rf target/uv
  python3 -m venv target/uv
  target/uv/bin/pip install -q --disable-pip-version-check "uv==$UV_VERSION"
fi
# Universal, so the lock also installs on another Python or platform than this one's; 3.11 is the oldest Python
# supported (Debian 12's).
echo "==> PyPI: scripts/requirements-test.txt"
target/uv/bin/uv pip compile --quiet --upgrade --universal --generate-hashes --python-version 3.11 \
  --custom-compile-command "make update-tools" -o scripts/requirements-test.txt scripts/requirements-test.in

for tool in cargo-deny cargo-fuzz; do
  variable=$(echo "${tool//-/_}" | tr '[:lower:]' '[:upper:]')_VERSION
  newest=$(cargo info --quiet "$tool" | awk '$1 == "version:" { print $2 }')
  echo "==> crates.io: $tool $(sed -n "s/^$variable=//p" scripts/deps.sh) -> $newest"
  sed -i "s/^$variable=.*/$variable=$newest/" scripts/deps.sh
done

for dir in ui tests/e2e; do
  echo "==> npm: $dir"
  (cd "$dir" && npm update --no-audit --no-fund --loglevel=error)
done

git diff --stat -- scripts/requirements-test.txt scripts/deps.sh ui/package-lock.json tests/e2e/package-lock.json
make test
