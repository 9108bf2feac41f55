#!/usr/bin/env bash
# Sets up a fresh machine and runs the main job on the sample photos, on this machine only:
#   1. system libraries (OpenBLAS, libjpeg-turbo, libpng, SQLite) via apt when missing;
#   2. MTCNN weights from the facenet-pytorch wheel on PyPI (SHA-256 verified);
#   3. FaceNet vggface2 weights from facenet-pytorch's release URL, if reachable;
#   4. a release build of `facerec`;
#   5. detection on the shared photos (JSON lines + an annotated PNG), and, with FaceNet
#      weights, identification of the course images against the course gallery data.pt.
# Data comes from $FACEREC_TEST_DATA or ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${FACEREC_TEST_DATA:-../shared/data}"
OUT="${FACEREC_OUT:-.facerec/run}"
FACENET="${FACENET_WEIGHTS:-weights/20180402-114759-vggface2.pt}"
FACENET_URL="https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt"

echo "==> system libraries"
bash scripts/install-deps.sh
echo "==> MTCNN weights"
bash weights/fetch_mtcnn_weights.sh
if [ ! -f "$FACENET" ]; then
    echo "==> FaceNet weights: downloading $FACENET_URL"
    if curl -fsSL --connect-timeout 10 --max-time 600 -o "$FACENET.part" "$FACENET_URL"; then
        mv "$FACENET.part" "$FACENET"
    else
        rm -f "$FACENET.part"
        echo "    FaceNet weights could not be downloaded on this machine (no route to the release URL)."
        echo "    Detection still runs; identification needs them: see weights/README.md."
    fi
fi
echo "==> building facerec (release)"
swift build -c release --product facerec >/dev/null
FACEREC=.build/release/facerec
mkdir -p "$OUT"

echo "==> detect: $DATA/photos"
"$FACEREC" detect --annotate "$OUT/multiface-annotated.png" "$DATA/photos/multiface.jpg" | tee "$OUT/multiface.jsonl" | cut -c1-160
"$FACEREC" detect "$DATA"/photos/*.jpg "$DATA"/face_images_100/test_0[0-4].jpg > "$OUT/detections.jsonl"
echo "    $(wc -l < "$OUT/detections.jsonl") images → $OUT/detections.jsonl; annotated picture → $OUT/multiface-annotated.png"

if [ -f "$FACENET" ]; then
    echo "==> identify: $DATA/face_images_100 against $DATA/data.pt"
    "$FACEREC" identify --weights "$FACENET" --gallery "$DATA/data.pt" "$DATA"/face_images_100/*.jpg | tee "$OUT/identify.txt" | head -5
    python3 - "$OUT/identify.txt" "$DATA/face_images_100.csv" <<'PY' || true
import sys
got = dict(l.strip().split(":", 1) for l in open(sys.argv[1]) if ":" in l)
want = dict(l.strip().split(",", 1) for l in open(sys.argv[2]) if not l.startswith("Image"))
same = sum(got.get(k) == v for k, v in want.items())
print(f"    {same}/{len(want)} names equal face_images_100.csv")
PY
else
    echo "==> identify skipped: no FaceNet weights at $FACENET (names are never invented)"
fi
