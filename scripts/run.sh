#!/usr/bin/env bash
# Sets everything up, builds pingroll (release) and runs it on the embedded SQLite default.
# Extra arguments go to `pingroll serve`, e.g. scripts/run.sh --listen 127.0.0.1:9090
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
swift build -c release --product pingroll
exec .build/release/pingroll serve "$@"
