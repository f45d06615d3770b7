#!/usr/bin/env bash
# Load check on PostgreSQL: a throwaway PostgreSQL 15, then POST /usage_data with a ~150 KB ping
# (a new uuid per request) against one collector (32 connections) and against two collectors
# sharing the database (16 connections each, run at the same time), then `rollup verify`.
# Release build, loopback only, stops by itself. Usage: scripts/loadcheck-postgres.sh [seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
PINGROLL_SETUP_EXTRA="wrk python3 postgresql-15" source scripts/setup.sh
duration="${1:-10}"
swift build -c release --product pingroll >/dev/null
source scripts/postgres.sh
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pg_throwaway_stop; rm -rf "$work"; }
trap cleanup EXIT
pg_throwaway_start
python3 scripts/loadcheck/make-template.py 150000 > "$work/ping.json"

start_collector() {  # $1 = name, $2 = database URL; sets collector_url
  .build/release/pingroll serve --database "$2" --listen 127.0.0.1:0 >/dev/null 2>"$work/$1.log" &
  pids+=($!)
  for _ in $(seq 100); do grep -q "listening on" "$work/$1.log" 2>/dev/null && break; sleep 0.1; done
  collector_url=$(grep -o 'listening on http://[0-9.:]*' "$work/$1.log" | sed 's/listening on //')
}
run_wrk() {  # $1 = base URL, $2 = connections, $3 = uuid prefix
  UUID_PREFIX="$3" PING_TEMPLATE="$work/ping.json" wrk -t1 -c"$2" -d"${duration}s" --latency -s scripts/loadcheck/post-ping.lua "$1/usage_data"
}

url1="$PINGROLL_TEST_POSTGRES_URL"
.build/release/pingroll migrate --database "$url1" >/dev/null
start_collector one "$url1"; one=$collector_url
echo "== one collector on PostgreSQL: $one, 32 connections, ${duration}s"
run_wrk "$one" 32 a | grep -E "Requests/sec|50%|99%|non-2xx"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true; pids=()

psql "$url1" -qc "CREATE DATABASE pingroll_two" >/dev/null
url2="${url1/pingroll_test/pingroll_two}"
.build/release/pingroll migrate --database "$url2" >/dev/null
start_collector a "$url2"; a=$collector_url
start_collector b "$url2"; b=$collector_url
echo "== two collectors on one PostgreSQL: $a and $b, 16 connections each, ${duration}s"
run_wrk "$a" 16 b >"$work/wa" & w1=$!
run_wrk "$b" 16 c >"$work/wb" & w2=$!
wait $w1 $w2
for f in wa wb; do grep -E "Requests/sec|50%|99%|non-2xx" "$work/$f"; done
python3 - "$work/wa" "$work/wb" <<'PY'
import re, sys
total = sum(float(re.search(r"Requests/sec:\s+([\d.]+)", open(f).read()).group(1)) for f in sys.argv[1:])
print(f"two collectors together: {total:.0f} pings/s")
PY
echo "== rollup verify on the two-collector database"
.build/release/pingroll rollup verify --database "$url2" | tail -1
