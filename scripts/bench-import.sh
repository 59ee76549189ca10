#!/usr/bin/env bash
# The one pass (issue 20): `lakedrop import` of a 2 GB batch, from the command to its job submitted, against
# `lakedrop validate` alone and `lakedrop upload` alone on the same files, all three on this machine against the
# sandbox served on loopback (which shares the cores: on a machine that sends to AWS the upload waits on the
# network, and the check runs in its shadow). Prints the seconds and the ratio of the import to the slower of the
# two (the target is 1.15 or less); asserts nothing. Each command starts with a fresh local state, so nothing is
# found already sent. Usage: scripts/bench-import.sh [folder]   (default: target/bench-data/2gb, from `make
# bench-data`; any folder of NDJSON works).
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-target/bench-data/2gb}
if [ ! -d "$data" ]; then
  python3 scripts/big-inputs.py target/bench-data samples/synthea-10-patients 2gb
fi
cargo build --release -q -p lakedrop-cli
bin=$PWD/target/release/lakedrop
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

files=()
while IFS= read -r f; do files+=("$f"); done < <(find "$data" -name '*.ndjson' | sort)
bytes=$(cat "${files[@]}" | wc -c)
echo "batch: ${#files[@]} files, $((bytes / 1000000)) MB"

"$bin" sandbox serve --port 0 --data "$work/sandbox" >"$work/serve.out" 2>/dev/null &
server=$!
pids+=($server)
for _ in $(seq 100); do grep -q '^role' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
eval "$(grep '^export' "$work/serve.out")"

# CPU seconds the sandbox server has used so far (user + system).
server_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$server/stat"; }

# Wall-clock seconds of a command (after its label), with a local state of its own; its output in $work/<label>,
# and the CPU seconds it and the server used in $work/<label>.cpu.
seconds() {
  local t0 label=$1 s0
  shift
  sync
  s0=$(server_cpu)
  t0=$(date +%s.%N)
  LAKEDROP_DATA_DIR=$work/client-$label "$@" >"$work/$label" 2>&1 || {
    cat "$work/$label" >&2
    exit 1
  }
  awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.3f", t1 - t0 }'
  # `times` in this subshell (not in a pipeline, which would be a subshell of its own with no children): its
  # children's user and system time, "0m1.234s 0m0.567s" on the second line.
  times >"$work/$label.times"
  awk -v s0="$s0" -v s1="$(server_cpu)" 'NR == 2 {
    split($1, u, /[ms]/); split($2, k, /[ms]/); printf "%.3f", u[1] * 60 + u[2] + k[1] * 60 + k[2] + s1 - s0 }' \
    "$work/$label.times" >"$work/$label.cpu"
}

# Validate exits 1 when a line would be rejected; the 2 GB set is all valid.
validate_s=$(seconds validate "$bin" validate "$data")
upload_s=$(seconds upload "$bin" upload "${files[@]}" --to "s3://lakedrop-input/bench-upload/")
import_s=$(seconds import "$bin" import "$data")
grep -q "job .* started" "$work/import" || { cat "$work/import" >&2; exit 1; }
# The CPU both runs need together, spread over this machine's cores, is the least an overlapped pass can take
# when the server shares the cores (as the sandbox does here): the third ratio says how close the pass comes.
awk -v v="$validate_s" -v u="$upload_s" -v i="$import_s" -v mb="$((bytes / 1000000))" -v cores="$(nproc)" \
  -v vc="$(cat "$work/validate.cpu")" -v uc="$(cat "$work/upload.cpu")" -v ic="$(cat "$work/import.cpu")" 'BEGIN {
  slower = v > u ? v : u
  floor = (vc + uc) / cores
  if (floor < slower) floor = slower
  printf "validate alone %.1f s (%.0f MB/s, %.1f CPU s); upload alone %.1f s (%.0f MB/s, %.1f CPU s with the server)\n",
    v, mb / v, vc, u, mb / u, uc
  printf "import to job submitted %.1f s (%.0f MB/s, %.1f CPU s with the server)\n", i, mb / i, ic
  printf "one pass: import / slower of the two = %.2f (target <= 1.15); import / (validate + upload) = %.2f;\n",
    i / slower, i / (v + u)
  printf "  import / CPU floor on %d cores (both runs'\'' CPU seconds over the cores) = %.2f\n", cores, i / floor }'
