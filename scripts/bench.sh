#!/usr/bin/env bash
# The ingest benchmark: measures, in one run on loopback, (a) GET /healthz req/s (HTTP ceiling),
# (b) POST bodies received and discarded (`serve --discard-bodies`: body ceiling), (c) full ingest
# (parse, compress, store, rollups, durable commit, reply) for 2 KB, ~150 KB and ~400 KB pings,
# (d) c/b, (e) the extractor's MB/s next to Foundation's JSONSerialization, (f) peak RSS of the
# ingesting server, (g) stored bytes per ping of a weekly sequence (pingroll-bench storage) against
# the raw size and zstd-1 of the whole ping, (h) `pingroll import` of a ~150 KB NDJSON file against
# the extractor alone on the same file, (i) rollup rebuild --metric and rollup verify pings/s and
# peak RSS at two history sizes (and a full rebuild), (j) ingest over HTTPS next to plain HTTP on
# the same server, (k) `pingroll retention apply` dropping half the payloads of each history
# database against one raw SQL UPDATE of the same rows on a copy (the ceiling), (l) what a client
# posting ~150 KB pings on 4 keep-alive connections sees while pingroll does its own long work (a
# full rollup rebuild, an enrollment import, instrumentation views over large metadata reports, a
# registry statistics upload) on a history database, against the same client alone in the same
# run (scripts/loadcheck/under_load.py; the rebuild also on PostgreSQL). Prints a table and one
# JSON line. Stops by itself.
#
# usage: scripts/bench.sh [seconds-per-run]     (default 10)
#        scripts/bench.sh --smoke               (1 s runs on a debug build; what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."
PINGROLL_SETUP_EXTRA="wrk python3 openssl postgresql" source scripts/setup.sh
config=release; duration="${1:-10}"; connections=32
if [ "${1:-}" = "--smoke" ]; then config=debug; duration=1; connections=4; fi
swift build -c "$config" --product pingroll >/dev/null
swift build -c "$config" --product pingroll-bench >/dev/null
bin=".build/$config"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

start_server() {  # $1 = name, rest = serve arguments; sets url and server_pid
  "$bin/pingroll" serve --listen 127.0.0.1:0 "${@:2}" >/dev/null 2>"$work/$1.log" &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 200); do grep -q "listening on" "$work/$1.log" 2>/dev/null && break; sleep 0.05; done
  url=$(grep -o 'listening on http://[0-9.:]*' "$work/$1.log" | sed 's/listening on //')
}
rate() { grep -o 'Requests/sec: *[0-9.]*' | grep -o '[0-9.]*$'; }
p99() { grep -E '^ +99%' | awk '{print $2}'; }

sizes=(2000 150000 400000)
for size in "${sizes[@]}"; do "$bin/pingroll-bench" generate --template --bytes "$size" > "$work/ping-$size.json"; done

start_server discard --discard-bodies; discard_url=$url
start_server ingest --database "$work/db.sqlite3"; ingest_url=$url; ingest_pid=$server_pid

results="$work/results"
: > "$results"
echo "healthz $(wrk -t2 -c$connections -d${duration}s "$discard_url/healthz" | rate)" >> "$results"
for size in "${sizes[@]}"; do
  out=$(UUID_PREFIX="d$size" PING_TEMPLATE="$work/ping-$size.json" wrk -t2 -c$connections -d${duration}s --latency -s scripts/loadcheck/post-ping.lua "$discard_url/usage_data")
  echo "discard-$size $(echo "$out" | rate) $(echo "$out" | p99)" >> "$results"
  out=$(UUID_PREFIX="i$size" PING_TEMPLATE="$work/ping-$size.json" wrk -t2 -c$connections -d${duration}s --latency -s scripts/loadcheck/post-ping.lua "$ingest_url/usage_data")
  echo "ingest-$size $(echo "$out" | rate) $(echo "$out" | p99) $(echo "$out" | grep -o 'non-2xx or socket errors: [0-9]*' | grep -o '[0-9]*$')" >> "$results"
done
for size in "${sizes[@]}"; do
  echo "extract-$size $("$bin/pingroll-bench" extract --bytes "$size" --millis $((duration * 200)) | tail -1)" >> "$results"
done
weeks=12; insts=40; importCount=1000; if [ "$config" = debug ]; then weeks=3; insts=4; importCount=40; fi
"$bin/pingroll-bench" generate --count $importCount --bytes 150000 --installations 200 > "$work/import.ndjson"
"$bin/pingroll" migrate --database "$work/import.sqlite3" >/dev/null 2>&1
echo "import $("$bin/pingroll" import --database "$work/import.sqlite3" "$work/import.ndjson" 2>/dev/null | grep -o '([0-9]* pings/s' | grep -o '[0-9]*')" >> "$results"
echo "extractfile $("$bin/pingroll-bench" extract --file "$work/import.ndjson" | tail -1)" >> "$results"
# (i) rollup rebuild --metric and rollup verify at two history sizes (~6 KB pings): seconds and
# peak RSS of each command, measured by a parent that reads its child's rusage.
timed() {  # prints "seconds peak_kib" of the command
  python3 -c 'import resource, subprocess, sys, time
t = time.time(); subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(f"{time.time() - t:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")' "$@"
}
# PINGROLL_BENCH_HISTORY="10000 200000" measures the issue's sizes (the import takes minutes).
read -r -a history <<< "${PINGROLL_BENCH_HISTORY:-10000 50000}"; if [ "$config" = debug ]; then history=(100 400); fi
for n in "${history[@]}"; do
  "$bin/pingroll-bench" generate --count "$n" --bytes 5000 --installations $((n / 20)) > "$work/history-$n.ndjson"
  "$bin/pingroll" migrate --database "$work/history-$n.sqlite3" >/dev/null 2>&1
  "$bin/pingroll" import --database "$work/history-$n.sqlite3" "$work/history-$n.ndjson" >/dev/null 2>&1
  echo "rebuild-$n $(timed "$bin/pingroll" rollup rebuild --metric container_registry_server.db_enabled --database "$work/history-$n.sqlite3")" >> "$results"
  echo "fullrebuild-$n $(timed "$bin/pingroll" rollup rebuild --database "$work/history-$n.sqlite3")" >> "$results"
  echo "verify-$n $(timed "$bin/pingroll" rollup verify --database "$work/history-$n.sqlite3")" >> "$results"
  rm -f "$work/history-$n.ndjson"
  # (k) The history spans 20 weeks from 2024-01-01; the cut-off at 2024-03-11 takes the first ten.
  days=$(python3 -c 'import datetime; print((datetime.date.today() - datetime.date(2024, 3, 11)).days)')
  ceiling=$(python3 - "$work/history-$n.sqlite3" "$work/ceiling-$n.sqlite3" <<'PY'
import sqlite3, sys, time
src = sqlite3.connect(sys.argv[1]); dst = sqlite3.connect(sys.argv[2]); src.backup(dst); src.close()
dst.execute("PRAGMA journal_mode=WAL"); dst.execute("PRAGMA synchronous=FULL")
t = time.time()
cur = dst.execute("UPDATE pings SET payload = x'', payload_encoding = 'dropped', shape_id = NULL WHERE recorded_at < 1710115200000")
dst.commit()
print(cur.rowcount, f"{time.time() - t:.3f}")
PY
)
  rm -f "$work/ceiling-$n.sqlite3"*
  echo "retention-$n $ceiling $(timed "$bin/pingroll" retention apply --payload-days "$days" --database "$work/history-$n.sqlite3")" >> "$results"
  "$bin/pingroll" rollup verify --database "$work/history-$n.sqlite3" >/dev/null 2>&1 && echo "retentionverify-$n clean" >> "$results" || echo "retentionverify-$n NOT-clean" >> "$results"
done
echo "history ${history[*]}" >> "$results"
# (j) ingest over HTTPS next to plain HTTP, one server with both listeners, same run.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$work/tls.key" -out "$work/tls.pem" -days 1 -subj "/CN=version.gitlab.com" \
  -addext "subjectAltName=DNS:version.gitlab.com,IP:127.0.0.1" >/dev/null 2>&1
"$bin/pingroll" serve --database "$work/tls.sqlite3" --listen 127.0.0.1:0 --listen-http 127.0.0.1:0 \
  --tls-cert "$work/tls.pem" --tls-key "$work/tls.key" >/dev/null 2>"$work/tls.log" &
pids+=("$!")
for _ in $(seq 200); do grep -q "listening on http://" "$work/tls.log" 2>/dev/null && break; sleep 0.05; done
tls_url=$(grep -o 'listening on https://[0-9.:]*' "$work/tls.log" | sed 's/listening on //')
plain_url=$(grep -o 'listening on http://[0-9.:]*' "$work/tls.log" | sed 's/listening on //')
for size in 2000 150000; do
  out=$(UUID_PREFIX="t$size" PING_TEMPLATE="$work/ping-$size.json" wrk -t2 -c$connections -d${duration}s --latency -s scripts/loadcheck/post-ping.lua "$tls_url/usage_data")
  echo "https-$size $(echo "$out" | rate) $(echo "$out" | p99)" >> "$results"
  out=$(UUID_PREFIX="p$size" PING_TEMPLATE="$work/ping-$size.json" wrk -t2 -c$connections -d${duration}s --latency -s scripts/loadcheck/post-ping.lua "$plain_url/usage_data")
  echo "http-$size $(echo "$out" | rate) $(echo "$out" | p99)" >> "$results"
done
# (l) ingest under load, on SQLite and (the rebuild) on a throwaway PostgreSQL database.
loaded=50000; small=""; if [ "$config" = debug ]; then loaded=1000; small="--small"; fi
loaded="${PINGROLL_BENCH_LOADED_PINGS:-$loaded}"
python3 scripts/loadcheck/under_load.py "$bin" "$work" "$duration" "$loaded" "$work/ping-150000.json" $small >> "$results"
if [ -z "${PINGROLL_TEST_POSTGRES_URL:-}" ]; then source scripts/postgres.sh; pg_throwaway_start; started_pg=1; fi
psql "$PINGROLL_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS pingroll_underload" -qc "CREATE DATABASE pingroll_underload" >/dev/null
python3 scripts/loadcheck/under_load.py "$bin" "$work" "$duration" "$loaded" "$work/ping-150000.json" $small \
  --postgres "${PINGROLL_TEST_POSTGRES_URL/pingroll_test/pingroll_underload}" >> "$results"
psql "$PINGROLL_TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS pingroll_underload" >/dev/null || true
if [ -n "${started_pg:-}" ]; then pg_throwaway_stop; fi
echo "storage $("$bin/pingroll-bench" storage --installations $insts --weeks $weeks | tail -1)" >> "$results"
echo "rss $(grep VmHWM /proc/$ingest_pid/status | awk '{print $2}')" >> "$results"
echo "stored $("$bin/pingroll" rollup verify --database "$work/db.sqlite3" | tail -1)" >> "$results"

python3 - "$results" "$config" "$duration" "$connections" <<'PY'
import json, sys
lines = {l.split(" ", 1)[0]: l.split(" ", 1)[1].strip() for l in open(sys.argv[1]) if " " in l}
config, duration, conns = sys.argv[2], sys.argv[3], sys.argv[4]
out = {"bench": "ingest", "config": config, "seconds": int(duration), "connections": int(conns)}
print(f"pingroll ingest benchmark ({config} build, {duration} s per run, {conns} connections, loopback)")
print(f"{'what':44} {'figure':>14}  notes")
out["healthz_rps"] = float(lines["healthz"])
print(f"{'(a) GET /healthz (HTTP ceiling)':44} {out['healthz_rps']:>10,.0f} r/s")
for size in ("2000", "150000", "400000"):
    d = lines[f"discard-{size}"].split()
    i = lines[f"ingest-{size}"].split()
    e = json.loads(lines[f"extract-{size}"])
    body, ingest = float(d[0]), float(i[0])
    label = {"2000": "2 KB", "150000": "~150 KB", "400000": "~400 KB"}[size]
    print(f"{'(b) POST ' + label + ', body discarded (ceiling)':44} {body:>10,.0f} r/s")
    print(f"{'(c) POST ' + label + ', full ingest':44} {ingest:>10,.0f} r/s  p99 {i[1]}, {i[2] if len(i) > 2 else '?'} errors")
    print(f"{'(d)     ratio c/b':44} {ingest / body:>14.2f}")
    print(f"{'(e) extractor / JSONSerialization, ' + label:44} {e['extractor_mb_s']:>6} / {e['jsonserialization_mb_s']} MB/s  zstd-1 {e['zstd1_mb_s']} MB/s, ratio {e['zstd1_ratio']}")
    out[f"body_ceiling_{size}_rps"] = body
    out[f"ingest_{size}_rps"] = ingest
    out[f"ingest_{size}_p99"] = i[1]
    out[f"ratio_{size}"] = round(ingest / body, 3)
    out[f"extractor_{size}_mb_s"] = e["extractor_mb_s"]
    out[f"jsonserialization_{size}_mb_s"] = e["jsonserialization_mb_s"]
rss = int(lines["rss"]) // 1024
out["peak_rss_mib"] = rss
print(f"{'(f) peak RSS of the ingesting server':44} {rss:>10} MiB")
print(f"    verify after the run: {lines['stored']}")
st = json.loads(lines["storage"])
print(f"{'(g) stored bytes per ~150 KB weekly ping':44} {st['shape_bytes_per_ping']:>10,} B  ratio {st['shape_ratio']} to raw {st['raw_bytes_per_ping']:,} B (the ceiling); zstd-1 whole {st['zstd1_bytes_per_ping']:,} B (ratio {st['raw_bytes_per_ping'] / st['zstd1_bytes_per_ping']:.1f}); {st['pings']} pings, {st['skeletons']} skeletons")
out["storage_ratio"] = float(st["shape_ratio"])
out["stored_bytes_per_ping"] = st["shape_bytes_per_ping"]
ef = json.loads(lines["extractfile"])
imp = float(lines["import"])
print(f"{'(h) pingroll import, ~150 KB NDJSON':44} {imp:>10,.0f} p/s  extractor alone on the same file {ef['pings_per_s']:,} p/s (the ceiling); ratio {imp / ef['pings_per_s']:.2f}")
out["import_pings_per_s"] = imp
out["import_ratio"] = round(imp / ef["pings_per_s"], 3)
sizes = lines["history"].split()
for kind in ("rebuild", "fullrebuild", "verify"):
    figures = []
    for n in sizes:
        seconds, kib = lines[f"{kind}-{n}"].split()
        rate = int(n) / float(seconds)
        figures.append((n, rate, int(kib) // 1024))
        out[f"{kind}_{n}_pings_per_s"] = round(rate)
        out[f"{kind}_{n}_peak_rss_mib"] = int(kib) // 1024
    label = {"rebuild": "(i) rollup rebuild --metric", "fullrebuild": "(i) rollup rebuild (full)", "verify": "(i) rollup verify"}[kind]
    text = ", ".join(f"{n} pings: {rate:,.0f} p/s, {rss} MiB" for n, rate, rss in figures)
    growth = figures[-1][2] / max(1, figures[0][2])
    print(f"{label:44} {text}; RSS grows {growth:.2f}x for {int(sizes[-1]) // int(sizes[0])}x the pings")
for n in sizes:
    rows, raw_s, seconds, kib = lines[f"retention-{n}"].split()
    rate, raw_rate = int(rows) / float(seconds), int(rows) / float(raw_s)
    out[f"retention_{n}_pings_per_s"] = round(rate)
    out[f"retention_{n}_ratio"] = round(rate / raw_rate, 3)
    print(f"{'(k) retention apply, ' + n + ' pings':44} {rate:>10,.0f} p/s  dropped {rows} payloads in {float(seconds):.2f} s, {int(kib) // 1024} MiB; one raw UPDATE on a copy {raw_rate:,.0f} p/s (the ceiling), ratio {rate / raw_rate:.2f}; verify after: {lines[f'retentionverify-{n}']}")
for size in ("2000", "150000"):
    t, p = lines[f"https-{size}"].split(), lines[f"http-{size}"].split()
    label = {"2000": "2 KB", "150000": "~150 KB"}[size]
    print(f"{'(j) full ingest over HTTPS, ' + label:44} {float(t[0]):>10,.0f} r/s  p99 {t[1]}; plain HTTP on the same server {float(p[0]):,.0f} r/s (the ceiling), ratio {float(t[0]) / float(p[0]):.2f}")
    out[f"https_{size}_rps"] = float(t[0])
    out[f"https_ratio_{size}"] = round(float(t[0]) / float(p[0]), 3)
failed = []
for backend in ("sqlite", "postgres"):
    alone = lines.get(f"underload-{backend}-alone")
    if not alone:
        continue
    base_rps = float(alone.split()[0])
    print(f"{'(l) ~150 KB pings alone, ' + backend:44} {base_rps:>10,.1f} r/s  p99 {float(alone.split()[1]):.0f} ms, max {float(alone.split()[2]):.0f} ms (the ceiling)")
    out[f"underload_{backend}_alone_rps"] = base_rps
    for load in ("rebuild", "estimate", "import", "instrumentation", "registry"):
        line = lines.get(f"underload-{backend}-{load}")
        if not line:
            continue
        rps, p99, top, non2xx, sockets, took = line.split()
        ratio = float(rps) / base_rps if base_rps else 0
        ok = float(p99) < 1000 and float(top) < 5000 and int(non2xx) == 0 and int(sockets) == 0 and ratio >= 0.5
        if not ok:
            failed.append(f"{backend}-{load}")
        label = {"rebuild": "during a full rollup rebuild", "estimate": "during estimate views", "import": "during an enrollment import", "instrumentation": "during instrumentation views",
                 "registry": "during a registry statistics upload"}[load]
        print(f"{'(l)   ' + label:44} {float(rps):>10,.1f} r/s  ratio {ratio:.2f}; p99 {float(p99):.0f} ms, max {float(top):.0f} ms, "
              f"{non2xx} non-2xx, {sockets} dropped; the load took {float(took):.1f} s{'' if ok else '  <- MISSES THE GOAL'}")
        out[f"underload_{backend}_{load}_ratio"] = round(ratio, 3)
        out[f"underload_{backend}_{load}_p99_ms"] = float(p99)
        out[f"underload_{backend}_{load}_max_ms"] = float(top)
    print(f"    verify after the loads ({backend}): {lines.get(f'underload-{backend}-verify', '?')}")
out["underload_goal_missed"] = failed
print(json.dumps(out))
PY
