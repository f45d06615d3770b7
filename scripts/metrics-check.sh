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
source scripts/throwaway-serve.sh
throwaway_serve metrics --access-log --log-format json
"$venv/bin/python" scripts/metrics-check.py "$url" "$dir/serve.log"
