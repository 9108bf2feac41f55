#!/usr/bin/env bash
# Builds Examples/Downstream — a separate package that depends on this one by path and whose
# main.swift is the README's "Using the library" example — and runs it on the sample data from
# the repository root. It checks that the example compiles unchanged (no warnings from its own
# code), finds every face of SampleData/photos/multiface.jpg, prints them as JSON through
# JSONEncoder, and prints a readable message for a weights folder that does not exist.
#
#   scripts/check-downstream.sh            # release build (as the README advises for dependants)
#   CONFIGURATION=debug scripts/check-downstream.sh
#
# FaceNet weights: FACEREC_FACENET_WEIGHTS, else weights/20180402-114759-vggface2.pt, else the
# synthetic test weights (deterministic, meaningless names) written by FaceRecBenchmarks.
# Needs the MTCNN weights in weights/ (weights/fetch_mtcnn_weights.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
CONFIGURATION="${CONFIGURATION:-release}"
SCRATCH="${DOWNSTREAM_SCRATCH:-$ROOT/.build-downstream}"
mkdir -p "$SCRATCH"

if [[ -z "${FACEREC_FACENET_WEIGHTS:-}" && ! -f weights/20180402-114759-vggface2.pt ]]; then
    SYNTHETIC="$SCRATCH/synthetic-facenet.safetensors"
    if [[ ! -f "$SYNTHETIC" ]]; then
        echo "==> no FaceNet weights: writing the synthetic test weights to $SYNTHETIC"
        swift build -c release --product FaceRecBenchmarks >/dev/null
        "$(swift build -c release --show-bin-path)/FaceRecBenchmarks" synthetic-weights --out "$SYNTHETIC"
    fi
    export FACEREC_FACENET_WEIGHTS="$SYNTHETIC"
fi

echo "==> the README's library example is Examples/Downstream's main.swift"
python3 - <<'PY'
import sys
readme = open("README.md").read()
section = readme[readme.index("## Using the library"):]
blocks = section.split("```swift\n")
example = blocks[2].split("```")[0]  # the second Swift block: the first is the Package.swift snippet
main = open("Examples/Downstream/Sources/Downstream/main.swift").read()
if example != main:
    sys.exit("check-downstream: README.md's example and Examples/Downstream/Sources/Downstream/main.swift differ")
PY

echo "==> building Examples/Downstream ($CONFIGURATION)"
start=$(date +%s)
swift build --package-path Examples/Downstream --scratch-path "$SCRATCH/build" -c "$CONFIGURATION" 2>&1 | tee "$SCRATCH/build.log" | grep -E "error|warning|Compiling|Build" | tail -5
echo "    built in $(( $(date +%s) - start )) s"
if grep -E "Sources/Downstream/.*(warning|error)" "$SCRATCH/build.log"; then
    echo "check-downstream: the example has warnings or errors" >&2
    exit 1
fi

echo "==> running it from the repository root"
output=$("$SCRATCH/build/$CONFIGURATION/Downstream")
echo "$output"

fail() { echo "check-downstream: $1" >&2; exit 1; }
json=$(grep '^\[' <<<"$output") || fail "no JSON line"
faces=$(python3 -c 'import json,sys; f=json.loads(sys.argv[1]); assert all({"box","prob","landmarks","name","candidates"} <= x.keys() for x in f); print(len(f))' "$json") \
    || fail "the JSON line is not a list of recognized faces"
[[ "$faces" -eq 6 ]] || fail "expected the 6 faces of multiface.jpg, got $faces"
grep -q "MTCNN weights not found: /nonexistent/weights/pnet.pt does not exist" <<<"$output" \
    || fail "no readable message for the missing weights folder"
echo "check-downstream: ok ($faces faces, JSON, readable error)"
