#!/usr/bin/env bash
# Makes the README's screenshots in docs/ (every shipped dashboard and the explorer): a fresh pingroll on a temporary
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
pm=$(.build/debug/pingroll token create --role pm --name screenshot-pm --database "$work/db.sqlite3" | tail -1)
python3 scripts/seed-demo.py "$base" 240 16 2026-11-16 "$pm"
token=$(.build/debug/pingroll token create --role viewer --name screenshot --database "$work/db.sqlite3" | tail -1)
mkdir -p docs
shoot() {  # $1 = file, $2 = path and query, $3 = window height
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=15000 --window-size=1280,"$3" \
    --user-data-dir="$work/chromium-$1" --screenshot="docs/$1" "$base$2#token=$token" 2>/dev/null
  echo "wrote docs/$1"
}
range="from=2026-08-03&to=2026-11-22&interval=week"
shoot adoption-dashboard.png "/?dashboard=registry-metadata-db&$range" 1700
shoot overview-dashboard.png "/?dashboard=service-ping-overview&$range" 1900
shoot instrumentation-dashboard.png "/?dashboard=instrumentation-health" 1500
shoot beta-migrations-dashboard.png "/?dashboard=beta-migrations&from=2026-06-01&to=2026-12-31" 1900
token=$pm shoot beta-enrollments.png "/beta?program=registry-metadata-db&enrollment=2" 1900
shoot explore.png "/explore?metric=container_registry_server.db_enabled&interval=week&from=2026-08-03&to=2026-11-22&group_by=version&show=share&view=chart" 900
# The weekly digest's HTML part, as a pm's e-mail shows it.
.build/debug/pingroll digest show --database "$work/db.sqlite3" --period week:2026-11-16 --format html --role pm \
  --public-url https://pingroll.example.com > "$work/digest.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1000,900 --user-data-dir="$work/chromium-digest" \
  --screenshot=docs/digest-email.png "file://$work/digest.html" 2>/dev/null
echo "wrote docs/digest-email.png"
