#!/usr/bin/env bash
# Upload throughput of `lakedrop upload` against `aws s3 cp` (PyPI's awscli) for the same generated file to the
# same local endpoint — the sandbox, then moto's server — and, on the sandbox, an upload killed with `kill -9` at
# about 80 % and run again: the seconds of that resume beside those of a full upload, and the bytes sent twice.
# Prints the figures and ratios; asserts nothing. Usage: scripts/bench-upload.sh [size in MiB]
# (LAKEDROP_UPLOAD_ARGS="--concurrency 16 --part-size 16" tries other settings).
# Reads only `lakedrop upload --output json` (the document on stdout, the progress lines on stderr); arithmetic is
# done by awk and python3, which every machine has.
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

# Wall-clock seconds of a command, its stdout kept in $work/out. Each run starts with no dirty pages left by the
# one before (the generated file, the last object written), so neither tool pays for the other's writeback.
seconds() {
  local t0
  sync
  t0=$(date +%s.%N)
  "$@" >"$work/out" 2>/dev/null
  awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.3f", t1 - t0 }'
}

# `lakedrop upload` of the file, to the s3://bucket/prefix/ that follows; endpoint and credentials in the environment.
# shellcheck disable=SC2206 # LAKEDROP_UPLOAD_ARGS is a list of flags
upload=("$bin" upload "$file" --output json ${LAKEDROP_UPLOAD_ARGS:-} --to)

full= # the sandbox's full-upload seconds, for the resume's comparison
bench() { # $1 label, $2 bucket; endpoint and credentials in the environment
  local aws_s lakedrop_s
  aws_s=$(seconds "$aws" --endpoint-url "$AWS_ENDPOINT_URL" s3 cp "$file" "s3://$2/bench/awscli.ndjson")
  lakedrop_s=$(seconds "${upload[@]}" "s3://$2/bench/lakedrop/")
  full=$lakedrop_s
  awk -v label="$1" -v mib="$size_mib" -v a="$aws_s" -v l="$lakedrop_s" 'BEGIN {
    printf "%s: aws s3 cp %.1f s (%.0f MiB/s); lakedrop upload %.1f s (%.0f MiB/s); speed-up %.2fx\n",
      label, a, mib / a, l, mib / l, a / l }'
}

# The sandbox, served as the AWS CLI sees it.
"$bin" sandbox serve --port 0 --data "$work/sandbox" >"$work/serve.out" 2>/dev/null &
pids+=($!)
for _ in $(seq 100); do grep -q '^role' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
eval "$(grep '^export' "$work/serve.out")"
export LAKEDROP_DATA_DIR=$work/client
bench sandbox lakedrop-input

# Killed with kill -9 once 80 % of the bytes are acknowledged, then run again. The watcher follows the progress
# lines and prints the acknowledged bytes at the kill.
"${upload[@]}" "s3://lakedrop-input/killed/" 2>"$work/progress.jsonl" >/dev/null &
up=$!
acknowledged=$(python3 - "$up" "$work/progress.jsonl" <<'PY'
import json, os, signal, sys, time

pid, path = int(sys.argv[1]), sys.argv[2]


def running():
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


done = 0
with open(path) as progress:
    while running():
        line = progress.readline()
        if not line:
            time.sleep(0.02)
            continue
        try:
            p = json.loads(line)["progress"]
        except (ValueError, KeyError):
            continue  # a log line
        done = p["bytesDone"]
        if done >= 0.8 * p["bytesTotal"]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it had finished already
            break
print(done)
PY
)
wait "$up" 2>/dev/null || true
resume=$(seconds "${upload[@]}" "s3://lakedrop-input/killed/")
python3 - "$work/out" "$acknowledged" "$resume" "$full" <<'PY'
import json, sys

f = json.load(open(sys.argv[1]))["files"][0]
acknowledged, resume, full = int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
mib = 1024 * 1024
kept = f["bytes"] - f["bytesSent"]
print(f"killed at {acknowledged / f['bytes']:.0%} acknowledged ({acknowledged / mib:.0f} MiB), then run again "
      f"({f['result']}, {f['partsReused']} parts kept): resume {resume:.1f} s against {full:.1f} s for the full "
      f"upload ({resume / full:.0%}); sent {f['bytesSent'] / mib:.0f} MiB of {f['bytes'] / mib:.0f} MiB; "
      f"re-sent {max(acknowledged - kept, 0)} bytes that the killed upload had acknowledged")
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
