#!/usr/bin/env bash
# The sandbox's import, measured as a user runs it: `lakedrop sandbox serve` in its own process, the AWS CLI
# (PyPI's, nobody here wrote it) uploading one file of real Synthea encounters and starting the import, then
# the job followed to COMPLETED. Prints the seconds, the throughput and the server's peak resident memory
# (VmHWM) beside the file's size: an import streams each object, so the peak must not grow with the file.
# Asserts nothing. Usage: scripts/bench-sandbox-import.sh [size in MiB, default 1024]
# (LAKEDROP_BIN=target/debug/lakedrop skips the release build.)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
scripts/deps.sh --test >/dev/null
if [[ -z "${LAKEDROP_BIN:-}" ]]; then
  cargo build --release -q -p lakedrop-cli
fi
bin=${LAKEDROP_BIN:-$PWD/target/release/lakedrop}
aws=$PWD/target/awscli/bin/aws
python3 scripts/big-inputs.py target/bench-data samples/synthea-10-patients 2gb >/dev/null
work=$(mktemp -d)
server=
cleanup() { [[ -n "$server" ]] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# The first size_mib MiB of the 2 GB file, cut at a line's end.
file=$work/Encounter.ndjson
head -c "$((size_mib * 1024 * 1024))" target/bench-data/2gb/*.ndjson | python3 -c '
import sys
data = sys.stdin.buffer.read()
sys.stdout.buffer.write(data[: data.rfind(b"\n") + 1])' >"$file"
bytes=$(stat -c %s "$file")
lines=$(wc -l <"$file")

"$bin" sandbox serve --port 0 --data "$work/sandbox" >"$work/serve.out" 2>/dev/null &
server=$!
for _ in $(seq 100); do grep -q '^role' "$work/serve.out" 2>/dev/null && break; sleep 0.1; done
eval "$(grep '^export ' "$work/serve.out")"
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true
datastore=$(awk '/^data store/ {print $3}' "$work/serve.out")
input=$(awk '/^buckets/ {sub("s3://", "", $2); print $2}' "$work/serve.out")
output=$(awk '/^buckets/ {sub("s3://", "", $4); print $4}' "$work/serve.out")
key=$(awk '/^KMS key/ {print $3}' "$work/serve.out")
role=$(awk '/^role/ {print $2}' "$work/serve.out")
"$aws" s3 cp --quiet "$file" "s3://$input/bench/Encounter.ndjson"
rss_before=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")

t0=$(date +%s.%N)
job=$("$aws" healthlake start-fhir-import-job --datastore-id "$datastore" --data-access-role-arn "$role" \
  --input-data-config "S3Uri=s3://$input/bench/" \
  --job-output-data-config "{\"S3Configuration\":{\"S3Uri\":\"s3://$output/bench-out/\",\"KmsKeyId\":\"$key\"}}" \
  --query JobId --output text)
while :; do
  status=$("$aws" healthlake describe-fhir-import-job --datastore-id "$datastore" --job-id "$job" \
    --query ImportJobProperties.JobStatus --output text)
  [[ "$status" == COMPLETED* || "$status" == FAILED ]] && break
  sleep 1
done
seconds=$(awk -v t0="$t0" -v t1="$(date +%s.%N)" 'BEGIN { printf "%.1f", t1 - t0 }')
rss=$(awk '/VmHWM/ {print $2}' "/proc/$server/status")
imported=$("$aws" healthlake describe-fhir-import-job --datastore-id "$datastore" --job-id "$job" \
  --query ImportJobProperties.JobProgressReport.TotalNumberOfResourcesImported --output text)
awk -v b="$bytes" -v l="$lines" -v s="$seconds" -v r0="$rss_before" -v r="$rss" -v st="$status" -v i="$imported" 'BEGIN {
  printf "sandbox import: %.0f MiB, %d lines, %s, %d imported in %.1f s (%.1f MiB/s)\n", b / 1048576, l, st, i, s, b / 1048576 / s
  printf "server peak RSS: %.0f MiB after the upload, %.0f MiB after the import: %.2f x the file size\n", r0 / 1024, r / 1024, r * 1024 / b
}'
