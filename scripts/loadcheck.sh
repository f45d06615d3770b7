#!/usr/bin/env bash
# Quick load check on loopback: GET /healthz req/s (HTTP ceiling), then POST /usage_data with a
# ~150 KB ping (a new uuid per request) — full ingest: parse, compress, group commit, reply.
# Uses a release build and wrk; stops by itself. Usage: scripts/loadcheck.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
PINGROLL_SETUP_EXTRA="wrk python3" source scripts/setup.sh
duration="${1:-10}"; connections="${2:-32}"
swift build -c release --product pingroll >/dev/null
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
python3 scripts/loadcheck/make-template.py 150000 > "$work/ping.json"
.build/release/pingroll serve --database "$work/db.sqlite3" --listen 127.0.0.1:0 --log-level warning 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/log" 2>/dev/null && break; sleep 0.1; done
# The listening line is logged at info; with --log-level warning ask the kernel for the port instead.
port=$(ss -ltnp 2>/dev/null | awk -v p="pid=$pid," '$0 ~ p {split($4, a, ":"); print a[length(a)]}' | head -1)
echo "pingroll on 127.0.0.1:$port, payload $(wc -c <"$work/ping.json") bytes, $connections connections, ${duration}s each"
echo "== GET /healthz"
wrk -t2 -c"$connections" -d"${duration}s" "http://127.0.0.1:$port/healthz" | grep -E "Requests/sec|Latency"
echo "== POST /usage_data (~150 KB, new ping each)"
PING_TEMPLATE="$work/ping.json" wrk -t2 -c"$connections" -d"${duration}s" --latency -s scripts/loadcheck/post-ping.lua \
  "http://127.0.0.1:$port/usage_data" | grep -E "Requests/sec|Latency|50%|99%|non-2xx|Transfer"
echo "stored: $(python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute('select count(*), sum(payload_size), sum(length(payload)) from pings').fetchone())" "$work/db.sqlite3") (pings, raw bytes, stored bytes)"
