#!/usr/bin/env bash
# Sets up a fresh machine and runs the main job, the whole recognition service, on this machine:
#   1. system libraries (OpenBLAS, libjpeg-turbo, libpng, SQLite) via apt when missing;
#   2. MTCNN weights from the facenet-pytorch wheel on PyPI (SHA-256 verified);
#   3. FaceNet vggface2 weights from facenet-pytorch's release URL, if reachable;
#   4. a release build of the service executables and `facerec`;
#   5. the embedded service (facerec-server: upload API + SQLite queue + directory store +
#      auto-scaled facerec-worker processes under .facerec/service), fed the 100 course images
#      through POST / by facerec-send, which prints every STEM:NAME answer and the accuracy
#      against face_images_100.csv. Without FaceNet weights it says so and the same pipeline
#      runs with detection results (NoFace / Unidentified), never invented names;
#   6. detection on the sample multi-face photo with an annotated picture.
# Data comes from SampleData/ in the repository ($FACEREC_SAMPLE_DATA overrides it).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${FACEREC_SAMPLE_DATA:-SampleData}"
OUT="${FACEREC_OUT:-.facerec/run}"
FACENET="${FACENET_WEIGHTS:-weights/20180402-114759-vggface2.pt}"

echo "==> system libraries"
bash scripts/install-deps.sh
echo "==> MTCNN weights"
bash weights/fetch_mtcnn_weights.sh
if [ ! -f "$FACENET" ]; then
    echo "==> FaceNet weights (weights/fetch_facenet_weights.sh)"
    if ! bash weights/fetch_facenet_weights.sh "$FACENET" 2>&1 | sed 's/^/    /'; then
        echo "    Detection still runs; identification needs them: see weights/README.md."
    fi
fi
echo "==> building the service (release; the first build takes about 10 minutes on 2 cores; log: $OUT/build.log)"
mkdir -p "$OUT"
: >"$OUT/build.log"
for product in facerec-server facerec-worker facerec-send facerec; do
    # SwiftPM's fetch lines and dependency warnings go to the log; a failed build shows its end.
    if ! swift build -c release --product "$product" >>"$OUT/build.log" 2>&1; then
        tail -40 "$OUT/build.log" >&2
        echo "run-local.sh: the release build of $product failed; the whole log is $OUT/build.log" >&2
        exit 1
    fi
done
BIN=.build/release

RECOGNITION=(--mtcnn-weights weights)
LABELS=()
if [ -f "$FACENET" ]; then
    RECOGNITION+=(--weights "$FACENET" --gallery "$DATA/data.pt")
    LABELS=(--labels "$DATA/face_images_100.csv")
else
    echo "==> no FaceNet weights at $FACENET: the service runs with detection results only (names are never invented)"
fi

echo "==> service: facerec-server on the embedded default (.facerec/service)"
PORT_FILE="$OUT/server.out"
"$BIN/facerec-server" --port 0 --data-dir .facerec/service "${RECOGNITION[@]}" >"$PORT_FILE" 2>"$OUT/server.log" &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
    grep -q "listening on" "$PORT_FILE" 2>/dev/null && break
    kill -0 $SERVER 2>/dev/null || { cat "$OUT/server.log" >&2; exit 1; }
    sleep 0.1
done
URL=$(grep -o 'http://[^ ]*' "$PORT_FILE" | head -1)
cat "$PORT_FILE"
echo "==> facerec-send: $DATA/face_images_100 → $URL (answers in $OUT/answers.txt)"
"$BIN/facerec-send" --url "$URL" --concurrency 32 "${LABELS[@]}" "$DATA/face_images_100" | tee "$OUT/answers.txt" | head -5
echo "    ... $(wc -l < "$OUT/answers.txt") answers"
if [ ! -f "$FACENET" ]; then
    echo "    (every answer is NoFace or Unidentified: no FaceNet weights at $FACENET, so the service only detects; weights/README.md says how to get them)"
fi
kill -TERM $SERVER; wait $SERVER || true
trap - EXIT
echo "    service stopped (workers drained); logs: $OUT/server.log, .facerec/service/logs/"

echo "==> detect: $DATA/photos/multiface.jpg"
"$BIN/facerec" detect --keep-all --annotate "$OUT/multiface-annotated.png" "$DATA/photos/multiface.jpg" | cut -c1-160
echo "    annotated picture → $OUT/multiface-annotated.png"
