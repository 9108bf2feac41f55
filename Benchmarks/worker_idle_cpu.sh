#!/usr/bin/env bash
# CPU a facerec-worker spends waiting on an empty SQS queue (long polls against a local moto
# server with SigV4 checking on): what an idle EC2 worker burns.
#
#   bash Benchmarks/worker_idle_cpu.sh [SECONDS] [CONCURRENCY]
#
# Starts moto (scripts/moto-server.sh), creates the pipeline with `facerec-server setup`, runs
# the worker in detection-only mode for SECONDS (default 30) with CONCURRENCY receive loops
# (default 8), and prints its user+system CPU seconds over that time, then how long SIGTERM
# took to stop it (the long polls must be cancelled).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_IDLE="${1:-30}"; CONCURRENCY="${2:-8}"
swift build -c release --product facerec-server >/dev/null
swift build -c release --product facerec-worker >/dev/null
BIN=.build/release
STATE=$(mktemp -d)
eval "$(bash scripts/moto-server.sh start --state-dir "$STATE")"
trap 'kill -TERM "${WORKER:-}" 2>/dev/null || true; bash scripts/moto-server.sh stop --state-dir "$STATE" >/dev/null; rm -rf "$STATE"' EXIT
export AWS_ACCESS_KEY_ID="$FACEREC_MOTO_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$FACEREC_MOTO_SECRET_ACCESS_KEY"
export AWS_REGION=us-east-1 AWS_ENDPOINT_URL="$FACEREC_MOTO_ENDPOINT" INPUT_BUCKET=idle-in OUTPUT_BUCKET=idle-out
eval "$("$BIN/facerec-server" setup 2>/dev/null)"
"$BIN/facerec-worker" --concurrency "$CONCURRENCY" --mtcnn-weights weights > /dev/null 2> "$STATE/worker.log" &
WORKER=$!
until grep -q "worker started" "$STATE/worker.log"; do kill -0 $WORKER; sleep 0.1; done
sleep 2
ticks() { awk '{print $14 + $15}' "/proc/$WORKER/stat"; }
before=$(ticks); sleep "$SECONDS_IDLE"; after=$(ticks)
hz=$(getconf CLK_TCK)
start=$(date +%s.%N); kill -TERM $WORKER; wait $WORKER; end=$(date +%s.%N)
python3 -c "print(f'idle worker, {$CONCURRENCY} receive loops, {$SECONDS_IDLE} s: {($after - $before) / $hz:.2f} CPU seconds ({100 * ($after - $before) / $hz / $SECONDS_IDLE:.1f} % of one core); SIGTERM to exit {$end - $start:.2f} s')"
