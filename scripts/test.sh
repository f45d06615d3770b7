#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: unit, store, HTTP and end-to-end tests
# (the end-to-end tests start real `pingroll serve` processes on loopback).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build --build-tests
swift test --skip-build "$@"
