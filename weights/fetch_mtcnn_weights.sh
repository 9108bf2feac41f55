#!/usr/bin/env bash
# Fetches facenet-pytorch's pretrained MTCNN weights (pnet.pt, rnet.pt, onet.pt; PyTorch legacy
# format, ~2 MB together) into this directory. They ship inside the facenet-pytorch wheel on PyPI,
# so this needs pip and network access to PyPI, nothing else. The files are verified against
# pinned SHA-256 digests before they are installed; they are not committed (.gitignore: weights/*.pt).
#
# Usage: weights/fetch_mtcnn_weights.sh [DEST_DIR]     (default: the directory of this script)
set -euo pipefail

VERSION="2.6.0"
DEST="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)}"
NETS=(pnet rnet onet)

# Digests of facenet_pytorch/data/{pnet,rnet,onet}.pt in facenet-pytorch 2.6.0.
expected_sha() {
    case "$1" in
        pnet) echo "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f" ;;
        rnet) echo "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86" ;;
        onet) echo "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d" ;;
    esac
}

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
    else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

all_present() {
    local net
    for net in "${NETS[@]}"; do
        [[ -f "$DEST/$net.pt" && "$(sha256_of "$DEST/$net.pt")" == "$(expected_sha "$net")" ]] || return 1
    done
}

if all_present; then
    echo "MTCNN weights already present and verified in $DEST"
    exit 0
fi

PYTHON="${PYTHON:-python3}"
command -v "$PYTHON" >/dev/null 2>&1 || { echo "error: $PYTHON not found (needed for pip download)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

echo "Downloading facenet-pytorch==$VERSION (wheel only, no dependencies)..."
if ! "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: "facenet-pytorch==$VERSION" -d "$WORK" >&2; then
    echo "error: pip download of facenet-pytorch==$VERSION failed (is PyPI reachable?)" >&2
    exit 1
fi
WHEEL="$(ls "$WORK"/facenet_pytorch-"$VERSION"-*.whl 2>/dev/null | head -n 1)"
[[ -n "$WHEEL" ]] || { echo "error: no facenet-pytorch $VERSION wheel in the download" >&2; exit 1; }

mkdir -p "$WORK/out"
# A wheel is a zip; Python's zipfile avoids depending on unzip being installed.
"$PYTHON" - "$WHEEL" "$WORK/out" "${NETS[@]}" <<'PY'
import sys, zipfile
wheel, out, nets = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as archive:
    for net in nets:
        member = f"facenet_pytorch/data/{net}.pt"
        try:
            data = archive.read(member)
        except KeyError:
            sys.exit(f"error: {member} is not in {wheel}")
        with open(f"{out}/{net}.pt", "wb") as handle:
            handle.write(data)
PY

status=0
for net in "${NETS[@]}"; do
    actual="$(sha256_of "$WORK/out/$net.pt")"
    expected="$(expected_sha "$net")"
    if [[ "$actual" != "$expected" ]]; then
        echo "error: SHA-256 mismatch for $net.pt: expected $expected, got $actual" >&2
        echo "       (the wheel on PyPI differs from the pinned facenet-pytorch $VERSION; nothing was installed)" >&2
        status=1
    fi
done
[[ $status -eq 0 ]] || exit $status

mkdir -p "$DEST"
for net in "${NETS[@]}"; do
    mv -f "$WORK/out/$net.pt" "$DEST/$net.pt"
    echo "installed $DEST/$net.pt ($(expected_sha "$net"))"
done
