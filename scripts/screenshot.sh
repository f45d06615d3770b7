#!/usr/bin/env bash
# Makes docs/adoption-dashboard.png (the README's screenshot): a fresh pingroll on a temporary
# SQLite database, seeded by scripts/seed-demo.py, rendered by headless Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
PINGROLL_SETUP_EXTRA="python3 chromium" source scripts/setup.sh
swift build --product pingroll >/dev/null
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
.build/debug/pingroll serve --database "$work/db.sqlite3" --listen 127.0.0.1:0 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/log" 2>/dev/null && break; sleep 0.1; done
base=$(grep -o 'listening on http://[0-9.:]*' "$work/log" | sed 's/listening on //')
python3 scripts/seed-demo.py "$base" 240 16 2026-11-16
token=$(.build/debug/pingroll token create --role viewer --name screenshot --database "$work/db.sqlite3" | tail -1)
mkdir -p docs
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=15000 --window-size=1280,1360 \
  --user-data-dir="$work/chromium" --screenshot=docs/adoption-dashboard.png \
  "$base/?dashboard=registry-metadata-db&from=2026-08-03&to=2026-11-22&interval=week#token=$token" 2>/dev/null
echo "wrote docs/adoption-dashboard.png"
