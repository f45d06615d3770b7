#!/usr/bin/env python3
"""(l) ingest under load: what a client posting ~150 KB pings sees while pingroll does its own
long work. One run: the client alone first (the ceiling), then the same client while each load
runs — a full `pingroll rollup rebuild` (CLI, another process), an enrollment import (a job),
views of the instrumentation report over large metadata reports, estimate views, a registry statistics upload
(a job). Each measurement is wrk on 4 keep-alive connections for DURATION seconds; the load is
started with it. Prints one line per measurement for bench.sh:

    underload-<backend>-<load> <req/s> <p99 ms> <max ms> <non-2xx> <socket errors> <load seconds>

and `underload-<backend>-verify clean|NOT-clean`. Stops by itself (every process it starts is
stopped on exit); targets 127.0.0.1 only.

usage: under_load.py BIN WORK DURATION PINGS PING_TEMPLATE [--postgres URL] [--small]
"""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

bin_dir, work, duration, pings, template = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
postgres = sys.argv[sys.argv.index("--postgres") + 1] if "--postgres" in sys.argv else None
small = "--small" in sys.argv
backend = "postgres" if postgres else "sqlite"
database = postgres or os.path.join(work, "underload.sqlite3")
pingroll = os.path.join(bin_dir, "pingroll")
children = []


def stop_children():
    for p in children:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def run(args, **kw):
    return subprocess.run([pingroll] + args, check=True, capture_output=True, text=True, **kw).stdout


def token(role):
    return run(["token", "create", "--role", role, "--name", f"bench-{role}-{time.monotonic_ns()}", "--database", database]).strip().split("\n")[-1]


def call(method, path, body=None, tok=None, content_type="application/json", timeout=600):
    data = None if body is None else (body if isinstance(body, bytes) else (body.encode() if isinstance(body, str) else json.dumps(body).encode()))
    headers = {"Authorization": "Bearer " + tok} if tok else {}
    if data is not None:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status, json.loads(response.read() or b"null")


def follow(job, tok):
    """Waits for a job to finish; returns it."""
    while job["state"] not in ("succeeded", "failed", "cancelled"):
        time.sleep(0.2)
        job = call("GET", f"/api/v1/jobs/{job['id']}", tok=tok)[1]
    if job["state"] != "succeeded":
        sys.exit(f"under_load: job {job['id']} ({job['kind']}) {job['state']}: {job['error']}")
    return job


def wrk(prefix):
    """The client: 4 keep-alive connections posting new ~150 KB pings for `duration` seconds."""
    env = dict(os.environ, UUID_PREFIX=prefix, PING_TEMPLATE=template)
    out = subprocess.run(["wrk", "-t2", "-c4", f"-d{duration}s", "--timeout", "30s", "--latency", "-s", "scripts/loadcheck/post-ping.lua",
                          base + "/usage_data"], env=env, check=True, capture_output=True, text=True).stdout

    def ms(text):
        value, unit = re.match(r"([0-9.]+)([a-z]+)", text).groups()
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]

    rps = float(re.search(r"Requests/sec:\s*([0-9.]+)", out).group(1))
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    latency_max = ms(re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", out, re.M).group(1))
    found = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    non2xx = int(found.group(1)) if found else 0
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sockets or found:
        sys.stderr.write(f"under_load: {prefix}: {sockets.group(0) if sockets else ''} {found.group(0) if found else ''}\n")
    socket_errors = sum(int(x) for x in sockets.groups()) if sockets else 0
    return rps, p99, latency_max, non2xx, socket_errors


def measure(name, load=None):
    """Runs the client for `duration` seconds with `load` started beside it; prints the line."""
    took = [0.0]
    thread = None
    if load:
        def timed():
            started = time.monotonic()
            load()
            took[0] = time.monotonic() - started
        thread = threading.Thread(target=timed)
        thread.start()
    rps, p99, latency_max, non2xx, socket_errors = wrk(f"{backend}-{name}-{time.monotonic_ns()}")
    if thread:
        thread.join()
    print(f"underload-{backend}-{name} {rps:.1f} {p99:.1f} {latency_max:.1f} {non2xx} {socket_errors} {took[0]:.1f}", flush=True)


try:
    # A history of `pings` ~5 KB pings from pings/20 installations (a weekly fleet's shape).
    history = os.path.join(work, f"underload-{backend}.ndjson")
    with open(history, "w") as out:
        subprocess.run([os.path.join(bin_dir, "pingroll-bench"), "generate", "--count", str(pings), "--bytes", "5000",
                        "--installations", str(max(1, pings // 20))], stdout=out, check=True)
    run(["migrate", "--database", database])
    run(["import", "--database", database, history])
    log = open(os.path.join(work, f"underload-{backend}.log"), "w")
    server = subprocess.Popen([pingroll, "serve", "--listen", "127.0.0.1:0", "--database", database], stdout=log, stderr=subprocess.STDOUT)
    children.append(server)
    base = None
    for _ in range(400):
        text = open(log.name).read()
        found = re.search(r"listening on (http://[0-9.:]+)", text)
        if found:
            base = found.group(1)
            break
        time.sleep(0.05)
    if not base:
        sys.exit("under_load: pingroll serve did not start: " + open(log.name).read()[-2000:])
    pm, viewer = token("pm"), token("viewer")

    measure("alone")

    def rebuild():
        subprocess.run([pingroll, "rollup", "rebuild", "--database", database], check=True, capture_output=True)
    measure("rebuild", rebuild)

    def estimates():
        # Estimates read every installation's latest ping of each period of the range (and the
        # lookback before it): the heaviest read a dashboard makes.
        deadline = time.monotonic() + duration
        n = 0
        while n < 3 or time.monotonic() < deadline:
            call("GET", "/api/v1/estimate?metric=container_registry_server.db_enabled&interval=month&from=2019-01-01&to=2031-12-01", tok=viewer)
            n += 1
    measure("estimate", estimates)

    if not postgres:
        call("POST", "/api/v1/beta/programs", {"slug": "load", "name": "Load"}, pm)
        rows = 3_000 if small else 150_000
        csv = "organization,contact_name,contact_email\r\n" + "".join(f"Org {i},Contact {i},c{i}@org{i}.example\r\n" for i in range(rows))

        def enrollment_import():
            status, job = call("POST", "/api/v1/beta/programs/load/enrollments/import", csv, pm, "text/csv")
            follow(job, pm)
        measure("import", enrollment_import)

        # Large metadata reports first (posted unauthenticated, as instances do), then views.
        reports, size = (3, 1 << 20) if small else (20, 8_000_000)
        for r in range(reports):
            entries, length = [], 0
            i = 0
            while length < size - 200:
                entry = json.dumps({"name": f"counts.metric_{r}_{i}", "time_elapsed": 0.01 * (i % 97), **({"error": "timeout"} if i % 13 == 0 else {})})
                entries.append(entry)
                length += len(entry) + 1
                i += 1
            body = '{"metadata":{"uuid":"load-%d","metrics":[%s]}}' % (r, ",".join(entries))
            call("POST", "/usage_ping_metadata", body.encode())

        def views():
            deadline = time.monotonic() + duration
            n = 0
            while n < 3 or time.monotonic() < deadline:
                call("GET", "/api/v1/instrumentation/metrics", tok=viewer)
                n += 1
        measure("instrumentation", views)

        _, x = call("POST", "/api/v1/beta/programs/load/enrollments", {"organization": "R", "contact_name": "R", "contact_email": "r@r.example"}, pm)
        attempts = 500 if small else 10_000
        items = []
        for i in range(attempts):
            day = f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}"
            items.append({"id": i + 1, "created_at": f"{day}T10:00:01Z", "started_at": f"{day}T10:00:00Z", "pre_import": True, "tag_import": True,
                          "blob_import": True, "repositories_count": 3, "tags_count": 10, "manifests_count": 10, "blobs_count": 40,
                          "blobs_size_bytes": 1 << 30, "storage_driver": "s3aws", "finished_at": f"{day}T11:00:00Z"})
        statistics = json.dumps({"release": {"version": "v4.19.0-gitlab"}, "database": {"enabled": True}, "import": items})

        def registry_upload():
            status, job = call("POST", f"/api/v1/beta/programs/load/enrollments/{x['id']}/migrations/from-registry-statistics", statistics, pm)
            follow(job, pm)
        measure("registry", registry_upload)

    verify = subprocess.run([pingroll, "rollup", "verify", "--database", database], capture_output=True)
    print(f"underload-{backend}-verify {'clean' if verify.returncode == 0 else 'NOT-clean'}", flush=True)
finally:
    stop_children()
