#!/usr/bin/env bash
# Fetches facenet-pytorch's pretrained FaceNet (InceptionResnetV1, VGGFace2) checkpoint,
# 20180402-114759-vggface2.pt (~107 MB), from the release URL facenet-pytorch's own
# models/inception_resnet_v1.py downloads it from. Needs curl (or wget) and internet access.
#
# Usage: weights/fetch_facenet_weights.sh [DEST_FILE]
#        (default: 20180402-114759-vggface2.pt beside this script)
# Environment:
#   FACENET_WEIGHTS_URL     another URL (a mirror, or a file:// copy)
#   FACENET_WEIGHTS_SHA256  a digest to check the download against
#
# Checks: facenet-pytorch publishes no SHA-256 for this file (its loader calls
# torch.hub's download_url_to_file without a hash, and the release notes list none), so without
# FACENET_WEIGHTS_SHA256 the download is checked for its size (100-120 MB) and for the structure
# of a PyTorch checkpoint (a zip archive holding data.pkl, or the legacy pickle's magic number).
# The file is written to a temporary name in the destination folder and renamed only once every
# check passed: a failed or interrupted download leaves nothing behind. Every failure is one line
# on stderr and a non-zero exit.
set -euo pipefail

URL="${FACENET_WEIGHTS_URL:-https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/20180402-114759-vggface2.pt}"
DEST="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/20180402-114759-vggface2.pt}"
MIN_BYTES=100000000
MAX_BYTES=120000000

fail() { echo "fetch_facenet_weights.sh: $*" >&2; exit 1; }

DIR="$(dirname "$DEST")"
[[ -d "$DIR" ]] || fail "cannot create $DEST: no such directory"
[[ -w "$DIR" ]] || fail "cannot create $DEST: permission denied"

TMP="$(mktemp "$DIR/.$(basename "$DEST").partial.XXXXXX")" || fail "cannot create a temporary file in $DIR"
ERR="$(mktemp)"
trap 'rm -f "$TMP" "$ERR"' EXIT
trap 'exit 130' INT TERM

echo "Downloading $URL" >&2
if command -v curl >/dev/null 2>&1; then
    if ! curl --fail --location --silent --show-error --connect-timeout 20 --retry 2 -o "$TMP" "$URL" 2>"$ERR"; then
        fail "cannot download $URL: $(tail -n 1 "$ERR" | sed 's/^curl: ([0-9]*) //')"
    fi
elif command -v wget >/dev/null 2>&1; then
    if ! wget --quiet --timeout=20 --tries=3 -O "$TMP" "$URL" 2>"$ERR"; then
        fail "cannot download $URL: $(tail -n 1 "$ERR")"
    fi
else
    fail "neither curl nor wget is installed"
fi

SIZE=$(wc -c < "$TMP" | tr -d ' ')
if [[ -n "${FACENET_WEIGHTS_SHA256:-}" ]]; then
    if command -v sha256sum >/dev/null 2>&1; then DIGEST=$(sha256sum "$TMP" | cut -d' ' -f1)
    else DIGEST=$(shasum -a 256 "$TMP" | cut -d' ' -f1); fi
    [[ "$DIGEST" == "$FACENET_WEIGHTS_SHA256" ]] || fail "SHA-256 mismatch for $URL: got $DIGEST, expected $FACENET_WEIGHTS_SHA256"
fi
(( SIZE >= MIN_BYTES && SIZE <= MAX_BYTES )) \
    || fail "$URL gave $SIZE bytes, not the ~107 MB checkpoint ($MIN_BYTES-$MAX_BYTES bytes expected)"

MAGIC=$(head -c 16 "$TMP" | od -An -tx1 | tr -d ' \n')
case "$MAGIC" in
    504b0304*)
        # A zip checkpoint (torch.save since 1.6) holds <name>/data.pkl.
        if command -v python3 >/dev/null 2>&1; then
            python3 - "$TMP" <<'PY' || fail "$URL is a zip archive without data.pkl: not a PyTorch checkpoint"
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
sys.exit(0 if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names) else 1)
PY
        elif command -v unzip >/dev/null 2>&1; then
            unzip -l "$TMP" | grep -q 'data\.pkl$' || fail "$URL is a zip archive without data.pkl: not a PyTorch checkpoint"
        fi
        ;;
    80028a0a6cfc9c46f9206aa8501900*) ;;  # legacy torch.save: pickle protocol 2, then torch's magic number
    *) fail "$URL is not a PyTorch checkpoint (first bytes ${MAGIC:0:16})" ;;
esac

mv -f "$TMP" "$DEST"
trap - EXIT
rm -f "$ERR"
echo "Wrote $DEST ($SIZE bytes)" >&2
