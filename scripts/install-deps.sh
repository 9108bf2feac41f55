#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to build and test the package:
# the C libraries (OpenBLAS, libjpeg-turbo, libpng, SQLite), pkg-config, and, for the tests
# only, the moto server and boto3 (the AWS stand-in and the reference client) and the AWS CLI
# (the deploy's user data downloads the worker with `aws s3 cp`; a test runs that script).
# Safe to run again: it skips what is already there.
set -euo pipefail

packages=(libopenblas-dev libjpeg-dev libpng-dev libsqlite3-dev zlib1g-dev libcurl4-openssl-dev pkg-config)
missing=()
for p in "${packages[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi

if [ "${1:-}" = "--with-test-tools" ]; then
    python3 -c 'import moto.server, boto3, flask_cors' 2>/dev/null \
        || python3 -m pip install -q 'moto[server]' boto3
    command -v aws >/dev/null 2>&1 || python3 -m pip install -q awscli
fi
