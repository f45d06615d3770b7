#!/usr/bin/env bash
# Fuzzes pingroll's hostile-input parsers with libFuzzer and AddressSanitizer, one target after
# another, each starting from (and adding to) its corpus. An input that takes more than 2 s
# counts as a failure (-timeout), so a parser that is not linear shows up as a crash.
# usage: scripts/fuzz.sh [seconds per target (default 60)] [target ...]
#   targets: payload (fuzz/corpus), multipart, cohort, query, config (fuzz/corpus-<target>); default all
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(payload multipart cohort query config)
mkdir -p .build-fuzz
if ! swift build --scratch-path .build-fuzz -c release --product pingroll-fuzz \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -parse-as-library > .build-fuzz/build.log 2>&1; then
  tail -30 .build-fuzz/build.log >&2
  echo "fuzz: the fuzzing build failed (log: .build-fuzz/build.log)" >&2
  exit 1
fi
mkdir -p fuzz/crashes
failed=()
for target in "${targets[@]}"; do
  corpus=fuzz/corpus
  [ "$target" = payload ] || corpus="fuzz/corpus-$target"
  mkdir -p "$corpus"
  echo "== $target ($corpus, ${seconds}s)"
  # New inputs go to a scratch directory: the committed corpus only grows by hand, with the
  # inputs that found something (copy them from fuzz/crashes/ once fixed).
  scratch=".build-fuzz/corpus-$target"
  mkdir -p "$scratch"
  if ! PINGROLL_FUZZ_TARGET="$target" .build-fuzz/release/pingroll-fuzz "$scratch" "$corpus" -max_total_time="$seconds" \
       -max_len=200000 -timeout=2 -artifact_prefix="fuzz/crashes/$target-" -print_final_stats=1 > "$scratch.log" 2>&1; then
    failed+=("$target")
  fi
  grep -E "^stat::|^==[0-9]+==|SUMMARY|Test unit written|Done " "$scratch.log" | tail -12
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (inputs in fuzz/crashes/)" >&2
  exit 1
fi
