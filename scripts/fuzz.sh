#!/usr/bin/env bash
# Fuzzes the JSON scanner, payload extractor, timestamp, version and multipart parsers with
# libFuzzer and AddressSanitizer, starting from (and adding to) fuzz/corpus.
# usage: scripts/fuzz.sh [seconds]   (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
seconds="${1:-60}"
swift build --scratch-path .build-fuzz -c release --product pingroll-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -parse-as-library >/dev/null
mkdir -p fuzz/corpus fuzz/crashes
.build-fuzz/release/pingroll-fuzz fuzz/corpus -max_total_time="$seconds" -max_len=200000 \
  -artifact_prefix=fuzz/crashes/ -print_final_stats=1 2>&1 | tail -15
