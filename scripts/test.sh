#!/usr/bin/env bash
# Runs every test: formatting and lints, the Rust workspace (libraries, sandbox, AWS calls, CLI, Tauri commands on
# the mock runtime), the UI's units, and the real desktop app over WebDriver under Xvfb.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
scripts/deps.sh --test

step() { echo; echo "==> $*"; }

step "UI build (the desktop crate embeds ui/dist; the Chromium tests load ui/dist-fake)"
(cd ui && npm run build --silent && npm run build:fake --silent)

step "rustfmt"
cargo fmt --all -- --check

step "clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "cargo deny: licenses, bans, sources (advisories: make audit, needs GitHub)"
cargo fetch --locked --quiet
cargo deny check licenses bans sources

step "cargo test"
rm -f target/tmp/integrity-summary.txt target/tmp/r4-examples-summary.txt target/tmp/conformance-summary.txt
timeout 1500 cargo test --workspace --locked
# The integrity suite's summary (kills survived, reruns, bytes compared, jobs per batch), the validator's count on
# the specification's own examples, and the sandbox's conformance to AWS (boto3, and moto beside it).
cat target/tmp/integrity-summary.txt target/tmp/r4-examples-summary.txt target/tmp/conformance-summary.txt

step "fuzz the line validator for ${FUZZ_SECONDS:=20} s (make fuzz runs longer)"
scripts/fuzz.sh "$FUZZ_SECONDS"

step "UI: svelte-check, ESLint, Prettier, Vitest"
(cd ui && npm run check && npm run lint && npm run format:check && npm test)

step "desktop app over WebDriver under Xvfb, then the UI in Chromium"
cargo build -p lakedrop-desktop --features custom-protocol --locked
timeout 600 scripts/e2e.sh
