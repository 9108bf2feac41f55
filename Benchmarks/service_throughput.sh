#!/usr/bin/env bash
# Service throughput and latency, side by side with in-process identification, on this machine.
#
#   bash Benchmarks/service_throughput.sh [IMAGES] [WORKERS] [CONCURRENCY]
#
# 1. `facerec identify` on the first IMAGES (default 300) images of face_images_1000: the
#    in-process baseline (parallel over the cores, batches of 8).
# 2. The embedded service on the same images: facerec-server with WORKERS (default 2) local
#    worker processes already running and warm, fed by facerec-send with CONCURRENCY (default
#    100) uploads in flight through POST /.
# Prints both throughputs, their ratio, and the POST / latency percentiles. Uses the synthetic
# FaceNet weights (same network, same cost as vggface2) unless FACENET_WEIGHTS is set.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-300}"; WORKERS="${2:-2}"; CONCURRENCY="${3:-100}"
DATA="${FACEREC_TEST_DATA:-../shared/data}"
OUT=Benchmarks/results/service; mkdir -p "$OUT"
for product in facerec facerec-server facerec-worker facerec-send FaceRecBenchmarks; do
    swift build -c release --product "$product" >/dev/null
done
BIN=.build/release
WEIGHTS="${FACENET_WEIGHTS:-$OUT/synthetic.safetensors}"
[ -f "$WEIGHTS" ] || "$BIN/FaceRecBenchmarks" synthetic-weights --out "$WEIGHTS" >/dev/null
mapfile -t FILES < <(ls "$DATA"/face_images_1000/*.jpg | sort | head -n "$N")
echo "images: ${#FILES[@]} from face_images_1000; cores: $(nproc); load: $(cut -d' ' -f1-3 /proc/loadavg)"

start=$(date +%s.%N)
"$BIN/facerec" identify --threshold none --weights "$WEIGHTS" --gallery "$DATA/data.pt" --mtcnn-weights weights "${FILES[@]}" > "$OUT/identify.txt"
end=$(date +%s.%N)
identify_s=$(python3 -c "print(f'{$end - $start:.2f}')")

rm -rf "$OUT/data"
"$BIN/facerec-server" --port 0 --data-dir "$OUT/data" --weights "$WEIGHTS" --gallery "$DATA/data.pt" --mtcnn-weights weights \
    --min-workers "$WORKERS" --max-workers "$WORKERS" --result-timeout 900 > "$OUT/server.out" 2> "$OUT/server.log" &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
until grep -q "listening on" "$OUT/server.out" 2>/dev/null; do kill -0 $SERVER; sleep 0.1; done
URL=$(grep -o 'http://[^ ]*' "$OUT/server.out" | head -1)
# Warm-up: every worker loaded and one job through the whole path.
until [ "$(ls "$OUT/data/logs" 2>/dev/null | wc -l)" -ge "$WORKERS" ] && \
      [ "$(grep -l 'worker started' "$OUT"/data/logs/*.log 2>/dev/null | wc -l)" -ge "$WORKERS" ]; do sleep 0.2; done
"$BIN/facerec-send" --url "$URL" "${FILES[0]}" > /dev/null 2>&1
start=$(date +%s.%N)
"$BIN/facerec-send" --url "$URL" --concurrency "$CONCURRENCY" "${FILES[@]}" > "$OUT/service.txt" 2> "$OUT/send.log"
end=$(date +%s.%N)
service_s=$(python3 -c "print(f'{$end - $start:.2f}')")
kill -TERM $SERVER; wait $SERVER || true; trap - EXIT

python3 - "$OUT/identify.txt" "$OUT/service.txt" "$identify_s" "$service_s" "${#FILES[@]}" "$WORKERS" "$CONCURRENCY" <<'PY'
import sys
ident, serv, ti, ts, n, workers, conc = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6], sys.argv[7]
a = dict(l.strip().split(":", 1) for l in open(ident) if ":" in l)
b = dict(l.strip().split(":", 1) for l in open(serv) if ":" in l)
same = sum(a.get(k) == v for k, v in b.items())
print(f"facerec identify (in process): {n} images in {ti:.2f} s = {n/ti:.2f} images/s")
print(f"service ({workers} workers, {conc} uploads in flight): {n} images in {ts:.2f} s = {n/ts:.2f} images/s")
print(f"service / in-process throughput: {ti/ts:.2f}  (answers equal to identify: {same}/{len(a)})")
PY
grep -o "latency.*" "$OUT/send.log" | sed 's/^/POST \/ /'
