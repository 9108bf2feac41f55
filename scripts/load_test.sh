#!/usr/bin/env bash
# Load test of the upload API with wrk (apt-get install -y wrk), on 127.0.0.1.
#
#   bash scripts/load_test.sh [SECONDS] [CONNECTIONS]
#
# Starts facerec-server (embedded default, fresh data dir, --no-workers so the CPU goes to the
# API; the jobs simply queue up) and runs, each with the status histogram and latency:
#   1. POST /v1/images, a real 160x160 JPEG from face_images_1000 as multipart, SECONDS (60)
#      with CONNECTIONS (32) connections: requests/s, p50/p99, statuses (expected: 202 only);
#   2. a 10 s burst of oversize uploads (body > --max-body-bytes, 1 MiB here): 413 only;
#   3. a 10 s burst of non-images (a text file named .jpg): 415 only;
#   4. POST / (waits for a result) with no worker running, --result-timeout 1: 504 only.
# Then reads the server's /metrics 5xx counters. Exits 1 if any 5xx other than the deliberate
# 504 of run 4 was seen. Needs the release build of facerec-server.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_RUN="${1:-60}"; CONNECTIONS="${2:-32}"
DATA="${FACEREC_TEST_DATA:-../shared/data}"
BIN="${BIN:-.build/release}"
WORK="$(mktemp -d /tmp/facerec-load-XXXXXX)"
IMAGE="$(ls "$DATA"/face_images_1000/*.jpg | sort | head -1)"
"$BIN/facerec-server" --port 0 --data-dir "$WORK/data" --no-workers --mtcnn-weights weights \
    --max-body-bytes 1048576 --result-timeout 1 > "$WORK/server.out" 2> "$WORK/server.log" &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
until grep -q "listening on" "$WORK/server.out" 2>/dev/null; do kill -0 $SERVER; sleep 0.1; done
URL=$(grep -o 'http://[^ ]*' "$WORK/server.out" | head -1)
echo "server $URL (pid $SERVER); cores $(nproc); load $(cut -d' ' -f1-3 /proc/loadavg); image $(basename "$IMAGE") ($(stat -c %s "$IMAGE") bytes)"
printf 'this is not an image\n%.0s' {1..50} > "$WORK/not-an-image.jpg"
run() { # title, seconds, connections, env...
  local title="$1" secs="$2" conns="$3"; shift 3
  echo "== $title"
  env "$@" wrk -t2 -c"$conns" -d"${secs}s" --timeout 30s -s scripts/load/upload.lua "$URL" | sed 's/^/   /'
}
run "POST /v1/images, ${SECONDS_RUN}s, $CONNECTIONS connections" "$SECONDS_RUN" "$CONNECTIONS" LOAD_FILE="$IMAGE" LOAD_PATH=/v1/images
run "oversize (image + 1.1 MB) to POST /v1/images, 10s, 8 connections" 10 8 LOAD_FILE="$IMAGE" LOAD_PAD=1200000 LOAD_PATH=/v1/images
run "non-image to POST /v1/images, 10s, 8 connections" 10 8 LOAD_FILE="$WORK/not-an-image.jpg" LOAD_PATH=/v1/images
run "POST / with no worker (deliberate 504 after 1 s), 10s, 8 connections" 10 8 LOAD_FILE="$IMAGE" LOAD_PATH=/
echo "== server /metrics (requests by route and status)"
curl -s "$URL/metrics" | grep '^facerec_http_requests_total' | sed 's/^/   /'
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
bad=$(curl -s "$URL/metrics" | grep '^facerec_http_requests_total' | grep -v 'status="504"' | grep -c 'status="5' || true)
if [ "$bad" != "0" ]; then echo "FAILED: 5xx answers other than the deliberate 504"; exit 1; fi
echo "OK: no 5xx other than the deliberate 504"
rm -rf "$WORK"
