#!/usr/bin/env bash
# Checks GET /metrics with a real Prometheus parser (prometheus_client from PyPI, pinned): starts
# `pingroll serve` on a throwaway SQLite database, posts pings (new, duplicate, rejected) and
# checks that the counters, histograms and gauges parse and move as they should. Needs a built
# .build/debug/pingroll; stops the server on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.26.0
venv=.build-venv/prometheus
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import prometheus_client, sys; sys.exit(prometheus_client.__version__ != '$version')" 2>/dev/null; then
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "prometheus-client==$version"
fi
dir=$(mktemp -d /tmp/pingroll-metrics.XXXXXX)
.build/debug/pingroll serve --database "$dir/db.sqlite3" --listen 127.0.0.1:0 --access-log --log-format json >"$dir/serve.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
url=""
for _ in $(seq 200); do
  url=$(grep -o 'listening on http://[0-9.:]*' "$dir/serve.log" | head -1 | sed 's/listening on //' || true)
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$dir/serve.log" >&2; echo "metrics-check: pingroll serve did not start" >&2; exit 1; }
"$venv/bin/python" scripts/metrics-check.py "$url" "$dir/serve.log"
