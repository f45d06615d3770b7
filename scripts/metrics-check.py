"""Posts pings to a running pingroll and checks /metrics with prometheus_client's parser.

usage: metrics-check.py URL SERVE_LOG   (the log of a `serve --access-log --log-format json`)
"""
import json
import time
import sys
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

url, log_path = sys.argv[1], sys.argv[2]


def request(method, path, body=None):
    req = urllib.request.Request(url + path, data=body, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def scrape():
    status, body, headers = request("GET", "/metrics")
    assert status == 200, status
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers["Content-Type"]
    samples = {}
    types = {}
    for family in text_string_to_metric_families(body.decode()):
        types[family.name] = family.type
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, types


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def ping(uuid, at="2025-01-06T10:00:00Z"):
    return json.dumps({"uuid": uuid, "hostname": "h", "recorded_at": at, "version": "16.5.1", "active_user_count": 3}).encode()


before, types = scrape()
for name in ["pingroll_build_info", "pingroll_ingest_pings", "pingroll_write_queue_bytes", "pingroll_database_bytes",
             "pingroll_quarantine_bytes", "pingroll_quarantine_entries", "pingroll_installations",
             "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"]:
    assert name in types, f"{name} missing: {sorted(types)}"
assert types["pingroll_ingest_pings"] == "counter", types["pingroll_ingest_pings"]
assert value(before, "pingroll_ingest_pings_total", outcome="accepted") == 0

for i in range(3):
    assert request("POST", "/usage_data", ping(f"m-{i}"))[0] == 201
# A duplicate is answered 201 with the first ping's id, as GitLab's version app does.
assert request("POST", "/usage_data", ping("m-0"))[0] == 201
assert request("POST", "/usage_data", b"{not json")[0] == 400
assert request("POST", "/usage_data", json.dumps({"uuid": "x"}).encode())[0] == 422
assert request("GET", "/api/v1/no-such-route")[0] in (401, 404)
assert request("GET", "/no/such/path")[0] == 404

time.sleep(2.2)  # the database figures are read at most every 2 s
after, types = scrape()
assert value(after, "pingroll_ingest_pings_total", outcome="accepted") == 3, after
assert value(after, "pingroll_ingest_pings_total", outcome="duplicate") == 1
assert value(after, "pingroll_ingest_pings_total", outcome="rejected") == 2
assert value(after, "pingroll_ingest_rejections_total", reason="invalid_json") == 1, [k for k in after if k[0].startswith("pingroll_ingest_rej")]
assert sum(v for (n, l), v in after.items() if n == "pingroll_ingest_rejections_total") == 2
assert value(after, "pingroll_http_requests_total", route="POST /usage_data", status="201") == 4, [(k, v) for k, v in after.items() if k[0] == "pingroll_http_requests_total"]
assert value(after, "pingroll_http_requests_total", route="unmatched", status="404") >= 1
assert value(after, "pingroll_http_request_duration_seconds_count", route="POST /usage_data") == 6
assert types["pingroll_http_request_duration_seconds"] == "histogram"
assert value(after, "pingroll_write_batch_size_count") >= 1 and value(after, "pingroll_write_commit_duration_seconds_count") >= 1
assert value(after, "pingroll_installations") == 3
assert value(after, "pingroll_quarantine_entries") == 2
assert value(after, "pingroll_last_ping_timestamp_seconds") > 1.7e9
assert value(after, "process_resident_memory_bytes") > 1e6
# No raw path ever becomes a label value.
routes = {dict(l).get("route") for (n, l) in after if n == "pingroll_http_requests_total"}
assert all(r == "unmatched" or r.split(" ", 1)[0] in {"GET", "POST", "PATCH", "PUT", "DELETE"} for r in routes), routes
assert not any("no/such" in r for r in routes), routes

# The access log: one JSON object per line, with the route template.
lines = [json.loads(l) for l in open(log_path) if l.startswith("{")]
access = [l for l in lines if l.get("label") == "pingroll.access"]
assert len(access) >= 10, len(access)
posted = [l for l in access if l["route"] == "POST /usage_data"]
assert len(posted) == 6 and {l["status"] for l in posted} == {"201", "400", "422"}, posted
assert all(set(l) >= {"method", "route", "status", "bytes", "duration_ms", "remote", "time", "level"} for l in access)
assert any(l["route"] == "unmatched" and l["status"] == "404" for l in access)
print(f"metrics-check: {len(types)} metric families parsed, counters and the access log moved as posted")
