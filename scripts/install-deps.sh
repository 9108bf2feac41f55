#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test the package:
# the C libraries (OpenBLAS, libjpeg-turbo, libpng, SQLite), pkg-config, and, for the tests
# only, the moto server and boto3 (the AWS stand-in and the reference client) and the AWS CLI
# (the deploy's user data downloads the worker with `aws s3 cp`; a test runs that script),
# and Debian's PostgreSQL 15 server for the shared-collections tests.
# Safe to run again: it skips what is already there.
set -euo pipefail

packages=(libopenblas-dev libjpeg-dev libpng-dev libsqlite3-dev zlib1g-dev libcurl4-openssl-dev pkg-config)
# The tests also drive the sqlite3 shell (a second process writing to the queue database) and
# the web console in headless Chromium through its WebDriver; the PostgreSQL collection tests
# start private PostgreSQL 15 servers from Debian's binaries (/usr/lib/postgresql/15/bin).
[ "${1:-}" = "--with-test-tools" ] && packages+=(sqlite3 chromium chromium-driver postgresql-15)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

# Pinned: the tests assert on moto's exact behaviour (docs/ROBUSTNESS.md, docs/TESTING.md).
test_python_packages=('moto[server]==5.2.1' 'boto3==1.43.11' 'botocore==1.43.11')
if [ "${1:-}" = "--with-test-tools" ]; then
    python3 - <<'PY' 2>/dev/null || python3 -m pip install -q "${test_python_packages[@]}"
from importlib.metadata import version
import flask_cors, moto.server  # noqa: F401  (the server's own imports)
assert (version("moto"), version("boto3"), version("botocore")) == ("5.2.1", "1.43.11", "1.43.11")
PY
    command -v aws >/dev/null 2>&1 || python3 -m pip install -q awscli
    # Selenium drives Debian's chromium through chromium-driver (ConsoleBrowserTests).
    python3 -c 'import selenium' 2>/dev/null || python3 -m pip install -q 'selenium==4.51.0'
    # Pillow writes the WebP photo the console test uploads.
    python3 -c 'import PIL' 2>/dev/null || python3 -m pip install -q pillow
    # scikit-learn and scipy are the references of `facerec cluster` and `facerec calibrate`
    # (CLIClusterTests, CLICalibrateTests), which skip without them.
    python3 -c 'import sklearn, scipy' 2>/dev/null || python3 -m pip install -q scikit-learn scipy
fi
