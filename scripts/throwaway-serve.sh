# Sourced by the check scripts: starts `.build/debug/pingroll serve` on a throwaway SQLite
# database in a new temporary directory and waits until it listens. Sets `dir`, `url` and `pid`,
# and stops the server and removes the directory on exit.
# usage: throwaway_serve NAME [serve arguments...]
throwaway_serve() {
  local name=$1; shift
  dir=$(mktemp -d "/tmp/pingroll-$name.XXXXXX")
  # A copy of the dashboards: an admin token may save panels into them (never into the checkout's).
  mkdir "$dir/dashboards" && cp dashboards/*.json "$dir/dashboards/"
  .build/debug/pingroll serve --database "$dir/db.sqlite3" --listen 127.0.0.1:0 --dashboards "$dir/dashboards" "$@" >"$dir/serve.log" 2>&1 &
  pid=$!
  trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
  url=""
  for _ in $(seq 200); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$dir/serve.log" | head -1 | sed 's/listening on //' || true)
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$dir/serve.log" >&2; echo "$name: pingroll serve did not start" >&2; exit 1; }
}
