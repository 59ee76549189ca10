#!/usr/bin/env bash
# Upload throughput of `lakedrop upload` against `aws s3 cp` (PyPI's awscli) for the same generated file to the
# same local endpoint — the sandbox, then moto's server — and the bytes re-sent after a `kill -9` at about half
# of an upload. Prints the figures and ratios; asserts nothing. Usage: scripts/bench-upload.sh [size in MiB]
# (LAKEDROP_UPLOAD_ARGS="--concurrency 16 --part-size 16" tries other settings).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
scripts/deps.sh --test >/dev/null
cargo build --release -q -p lakedrop-cli
bin=$PWD/target/release/lakedrop
aws=$PWD/target/awscli/bin/aws
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

file=$work/bench.ndjson
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$file"
echo "file: $size_mib MiB"

# Each run starts with no dirty pages left by the one before (the generated file, the last object written), so
# neither tool pays for the other's writeback.
seconds() { local t0 t1; sync; t0=$(date +%s.%N); "$@" >/dev/null 2>&1; t1=$(date +%s.%N); echo "$t1 - $t0" | bc; }

bench() { # $1 label, $2 bucket; endpoint and credentials in the environment
  local aws_s lakedrop_s
  aws_s=$(seconds "$aws" --endpoint-url "$AWS_ENDPOINT_URL" s3 cp "$file" "s3://$2/bench/awscli.ndjson")
  lakedrop_s=$(seconds "$bin" upload --to "s3://$2/bench/lakedrop/" "$file" ${LAKEDROP_UPLOAD_ARGS:-})
  echo "$1: aws s3 cp $(printf %.1f "$aws_s") s ($(echo "$size_mib / $aws_s" | bc) MiB/s); lakedrop upload $(printf %.1f "$lakedrop_s") s ($(echo "$size_mib / $lakedrop_s" | bc) MiB/s); speed-up $(echo "scale=2; $aws_s / $lakedrop_s" | bc)x"
}

# The sandbox, served as the AWS CLI sees it.
"$bin" sandbox serve --port 0 --data "$work/sandbox" >"$work/serve.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q '^role' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
eval "$(grep '^export' "$work/serve.out")"
export LAKEDROP_DATA_DIR=$work/client
bench sandbox lakedrop-input

# Kill -9 at about half, run again: what is sent the second time.
parts=$(( (size_mib + 7) / 8 ))
"$bin" upload --to "s3://lakedrop-input/killed/" "$file" 2>"$work/progress" >/dev/null &
up=$!
while kill -0 "$up" 2>/dev/null; do
  done_parts=$(grep -o 'part [0-9]*' "$work/progress" | tail -n 1 | cut -d' ' -f2 || true)
  if [[ -n "$done_parts" && "$done_parts" -ge $((parts / 2)) ]]; then kill -9 "$up"; break; fi
  sleep 0.05
done
wait "$up" 2>/dev/null || true
"$bin" upload --to "s3://lakedrop-input/killed/" "$file" --output json >"$work/again.json"
python3 - "$work/again.json" "${done_parts:-?}" <<'PY'
import json, re, sys
f = json.load(open(sys.argv[1]))["files"][0]
part = 8 * 1024 * 1024
total = -(-f["bytes"] // part)
sent = -(-f["bytesSent"] // part)
reused = int(re.search(r"(\d+) parts already", f["outcome"]).group(1)) if "already" in f["outcome"] else 0
print(f"killed with {sys.argv[2]}/{total} parts reported done; run again: {reused} parts kept, "
      f"{sent} sent ({f['bytesSent'] / 1048576:.0f} MiB); sent twice: {reused + sent - total} parts (target <= 1)")
PY

# moto's server, written by nobody here.
if [[ -x target/awscli/bin/moto_server ]]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  target/awscli/bin/moto_server -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
  pids+=($!)
  export AWS_ENDPOINT_URL=http://127.0.0.1:$port AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
  for _ in $(seq 100); do curl -s "$AWS_ENDPOINT_URL" >/dev/null && break; sleep 0.1; done
  "$aws" --endpoint-url "$AWS_ENDPOINT_URL" s3 mb s3://bench >/dev/null
  bench moto bench
fi
