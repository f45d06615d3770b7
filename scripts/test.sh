#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: unit, store, HTTP and end-to-end tests
# (the end-to-end tests start real `pingroll serve` processes on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
PINGROLL_SETUP_EXTRA="python3 python3-jsonschema" source scripts/setup.sh
/usr/bin/python3 scripts/validate-schemas.py
swift build --build-tests
swift test --skip-build "$@"
