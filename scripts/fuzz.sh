#!/usr/bin/env bash
# Fuzzes the validator's line checker with cargo-fuzz (libFuzzer) for N seconds (default 600), starting from real
# Synthea lines; any panic fails and leaves the input in crates/validate/fuzz/artifacts/.
# cargo-fuzz needs nightly's -Z flags; RUSTC_BOOTSTRAP lets this machine's stable 1.95 accept them.
set -euo pipefail
cd "$(dirname "$0")/../crates/validate"
seconds=${1:-600}
mkdir -p ../../target/fuzz-corpus
RUSTC_BOOTSTRAP=1 timeout $((seconds + 600)) cargo fuzz run --sanitizer none check_line \
  ../../target/fuzz-corpus fuzz/seeds -- -max_total_time="$seconds" -max_len=65536 2>&1 | tail -n 30
