#!/usr/bin/env python3
"""Posts a realistic demo history to a running pingroll: N installations pinging weekly for W weeks
(a ping now and then missing, a few installations stopping for good, a few switching the database
off again), with registry metadata database adoption growing from GitLab 16.5 on. Deterministic (seeded).

usage: scripts/seed-demo.py http://127.0.0.1:PORT [installations] [weeks] [last-monday YYYY-MM-DD] [pm-token]

The history ends with the week starting last-monday; by default the latest complete week before
today, so today's default dashboard views have data. With a pm token it also seeds the beta
program registry-metadata-db: enrollments imported from a CSV with their real dates, migration
runs (one- and three-step, some failed) and feedback. Before posting anything it checks that the
server answers, that the token may write beta records, that the program does not exist yet, and
that no ping would be dated in the future; a refused request prints the server's answer.
"""
import datetime
import json
import time
import random
import sys
import urllib.error
import urllib.request

base = sys.argv[1].rstrip("/")
installations = int(sys.argv[2]) if len(sys.argv) > 2 else 240
weeks = int(sys.argv[3]) if len(sys.argv) > 3 else 16
today = datetime.datetime.now(datetime.timezone.utc).date()
last_monday = (datetime.date.fromisoformat(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4]
               else today - datetime.timedelta(days=today.weekday() + 7))
pm_token = sys.argv[5] if len(sys.argv) > 5 and sys.argv[5] else None
slug = "registry-metadata-db"


def call(method, path, body=None, token=None, content_type="application/json"):
    """The answer's JSON; a refused request or an unreachable server ends the script with what
    the server said (or why it could not be reached)."""
    data = None if body is None else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
    headers = {"Authorization": "Bearer " + token} if token else {}
    if data is not None:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            answer = json.loads(response.read() or b"null")
            if response.status == 202:
                return finished_job(answer, token)
            return answer
    except urllib.error.HTTPError as error:
        sys.exit(f"seed-demo: {method} {path} was refused: {error.code} {error.read().decode(errors='replace')[:2000]}")
    except urllib.error.URLError as error:
        sys.exit(f"seed-demo: cannot reach {base}: {error.reason}")


def finished_job(job, token):
    """A long operation answers 202 with a job: follow it until it finishes, and answer its result."""
    deadline = time.monotonic() + 600
    while job.get("state") not in ("succeeded", "failed", "cancelled"):
        if time.monotonic() > deadline:
            sys.exit(f"seed-demo: job {job.get('id')} ({job.get('kind')}) did not finish in 10 minutes")
        time.sleep(0.2)
        job = call("GET", f"/api/v1/jobs/{job['id']}", token=token)
    if job.get("state") != "succeeded":
        sys.exit(f"seed-demo: job {job.get('id')} ({job.get('kind')}) {job.get('state')}: {job.get('error')} {json.dumps(job.get('result'))[:2000]}")
    return job.get("result")


# What may be posted, checked before anything is.
if last_monday.weekday() != 0:
    sys.exit(f"seed-demo: {last_monday} is not a Monday")
if last_monday + datetime.timedelta(days=7) > today:
    sys.exit(f"seed-demo: the week of {last_monday} is not over yet (pings would be dated in the future); "
             f"give a Monday at least a week before today, e.g. {today - datetime.timedelta(days=today.weekday() + 7)}")
call("GET", "/healthz")
if pm_token:
    programs = call("GET", "/api/v1/beta/programs", token=pm_token)
    if any(p.get("slug") == slug for p in (programs or {}).get("programs", [])):
        sys.exit(f"seed-demo: the beta program {slug} exists already; seed a fresh database (or leave out the pm token)")
rnd = random.Random(42)
types = ["omnibus-gitlab"] * 6 + ["gitlab-helm-chart"] * 3 + ["gitlab-operator", "source"]
editions = ["CE", "EE Free", "EES", "EEP", "EEP", "EEU"]
state = []
for i in range(installations):
    state.append({
        "uuid": f"demo-{i:04d}", "type": rnd.choice(types), "edition": rnd.choice(editions),
        "minor": rnd.choice([3, 4, 5, 6, 7, 8, 9]), "vendor": "other" if rnd.random() < 0.08 else "gitlab",
        "registry": rnd.random() < 0.85, "db": False, "slot": rnd.randrange(7 * 24),
        # Some stop pinging for good (decommissioned, or Service Ping switched off).
        "last_week": rnd.randrange(weeks // 2, weeks) if rnd.random() < 0.04 else weeks,
    })
start = last_monday - datetime.timedelta(weeks=weeks - 1)
pings = 0
for week in range(weeks):
    for s in state:
        if rnd.random() < 0.06 and s["minor"] < 11:
            s["minor"] += 1  # upgrades
        if s["minor"] >= 5 and s["registry"] and s["vendor"] == "gitlab" and not s["db"]:
            s["db"] = rnd.random() < 0.04 + 0.012 * week  # adoption grows
        elif s["db"] and rnd.random() < 0.01:
            s["db"] = False  # and now and then someone switches it off again
        # A ping that never arrived (instance down, proxy, a failed cron); and the ones that stopped.
        if rnd.random() < 0.07 or week >= s["last_week"]:
            continue
        when = datetime.datetime.combine(start + datetime.timedelta(weeks=week), datetime.time()) + datetime.timedelta(hours=s["slot"])
        server = {"vendor": s["vendor"], "version": f"3.{80 + s['minor']}.0-gitlab"}
        if s["minor"] >= 5:
            server["db_enabled"] = s["db"]
        payload = {
            "uuid": s["uuid"], "hostname": f"{s['uuid']}.example.com", "recorded_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "version": f"16.{s['minor']}.1-ee" if s["edition"] != "CE" else f"16.{s['minor']}.1",
            "edition": s["edition"], "installation_type": s["type"], "active_user_count": rnd.randint(5, 4000),
            "container_registry_enabled": s["registry"], "container_registry_server": server,
            "gitaly": {"servers": rnd.randint(1, 3)}, "database": {"version": rnd.choice(["13.11", "14.9", "15.4"])},
        }
        call("POST", "/usage_data", payload)
        pings += 1
# What instances post about their own pings: a metadata report after each successful ping (here
# the last week's), and error reports from a few whose submission failed.
def post(path, body):
    call("POST", path, body)

metric_names = [f"counts.{n}" for n in ("projects", "issues", "merge_requests", "ci_pipelines", "packages", "container_repositories")] + \
               [f"redis_hll_counters.{n}" for n in ("analytics_unique_visits", "ci_templates", "code_review", "pipeline_authoring")] + \
               [f"usage_activity_by_stage.{n}" for n in ("create", "verify", "package", "secure", "manage", "plan")]
slow = {"counts.ci_pipelines": 40.0, "usage_activity_by_stage.secure": 25.0, "redis_hll_counters.code_review": 12.0}
failing = {"usage_activity_by_stage.secure": 0.12, "counts.ci_pipelines": 0.05, "redis_hll_counters.ci_templates": 0.02}
reports = 0
for s in state:
    metrics = []
    for name in metric_names:
        entry = {"name": name, "time_elapsed": round(rnd.lognormvariate(0, 1) * slow.get(name, 1.5), 2)}
        if rnd.random() < failing.get(name, 0.0):
            entry["error"] = "PG::QueryCanceled: ERROR:  canceling statement due to statement timeout"
        metrics.append(entry)
    post("/usage_ping_metadata", {"metadata": {"uuid": s["uuid"], "metrics": metrics}})
    reports += 1
    if rnd.random() < 0.06:
        message = rnd.choice(["Net::ReadTimeout with #<TCPSocket:(closed)> at /opt/gitlab/embedded/lib/ruby/3.1.0/net/protocol.rb:219:in 'rbuf_fill'",
                              "Usage data payload is blank at /opt/gitlab/embedded/service/gitlab-rails/app/services/service_ping/submit_service.rb:51:in 'submit_usage_data_payload'",
                              "Failed to open TCP connection to version.gitlab.com:443 (getaddrinfo: Name or service not known) at /opt/gitlab/embedded/lib/ruby/3.1.0/net/http.rb:1271:in 'initialize'"])
        post("/usage_ping_errors", {"error": {"uuid": s["uuid"], "hostname": f"{s['uuid']}.example.com", "version": f"16.{s['minor']}.1",
                                              "message": message, "elapsed": round(rnd.uniform(1, 120), 1),
                                              "time": last_monday.isoformat() + "T00:00:00Z"}})
        reports += 1
print(f"seeded {pings} pings: {installations} installations x {weeks} weeks ending {last_monday}; {reports} metadata and error reports")

if pm_token:
    def api(method, path, body=None, content_type="application/json"):
        return call(method, path, body, pm_token, content_type)

    # Dates of the beta program never pass yesterday (a short history ends near today).
    latest = today - datetime.timedelta(days=1)
    api("POST", "/api/v1/beta/programs", {"slug": slug, "name": "Registry metadata database beta", "phases": ["wave-1", "wave-2"]})
    drivers = ["s3", "s3", "gcs", "azure", "filesystem"]
    rows = ["organization,contact_name,contact_email,uuid,storage_driver,registry_size_bytes,phase,status,created_at,enrolled_at,importing_at,migrated_at,blocked_at"]
    plans = []
    for i in range(24):
        s_ = state[i]
        created = start + datetime.timedelta(days=rnd.randrange(0, 20))
        enrolled = created + datetime.timedelta(days=rnd.randrange(2, 15))
        importing = enrolled + datetime.timedelta(days=rnd.randrange(3, 30))
        migrated = importing + datetime.timedelta(days=rnd.randrange(1, 12))
        fate = rnd.choice(["migrated"] * 5 + ["importing"] * 2 + ["enrolled", "blocked", "interested"])
        dates = {"enrolled_at": enrolled, "importing_at": importing, "migrated_at": migrated, "blocked_at": importing}
        keep = {"migrated": ["enrolled_at", "importing_at", "migrated_at"], "importing": ["enrolled_at", "importing_at"],
                "enrolled": ["enrolled_at"], "blocked": ["enrolled_at", "blocked_at"], "interested": []}[fate]
        size = rnd.choice([40, 150, 600, 2500, 12000]) * (1 << 30)
        cells = [f"Org {i:02d}", f"Contact {i:02d}", f"contact{i:02d}@org{i:02d}.example", s_["uuid"], drivers[i % len(drivers)], str(size),
                 "wave-1" if i < 12 else "wave-2", fate, min(created, latest).isoformat()] + [min(dates[k], latest).isoformat() if k in keep else "" for k in
                 ["enrolled_at", "importing_at", "migrated_at", "blocked_at"]]
        rows.append(",".join(cells))
        plans.append((fate, importing, size, drivers[i % len(drivers)]))
    api("POST", f"/api/v1/beta/programs/{slug}/enrollments/import", "\r\n".join(rows) + "\r\n", "text/csv")
    enrollments = api("GET", f"/api/v1/beta/programs/{slug}/enrollments")["enrollments"]
    by_org = {x["organization"]: x["id"] for x in enrollments}
    runs = 0
    for i, (fate, importing, size, driver) in enumerate(plans):
        if fate not in ("migrated", "importing", "blocked"):
            continue
        eid = by_org[f"Org {i:02d}"]
        attempts = [("failed" if fate == "blocked" or rnd.random() < 0.25 else "succeeded")]
        if attempts[0] == "failed" and fate == "migrated":
            attempts.append("succeeded")
        at = datetime.datetime.combine(min(importing, latest), datetime.time(8))
        for outcome in attempts:
            three = size >= 200 * (1 << 30)
            hours = max(0.5, size / (1 << 30) / rnd.uniform(80, 400))
            tag_minutes = rnd.uniform(5, 45) if three else hours * 60
            iso = lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ")
            if three:
                pre_end = at + datetime.timedelta(hours=hours * 0.6)
                tag_end = pre_end + datetime.timedelta(minutes=tag_minutes)
                end = tag_end + datetime.timedelta(hours=hours * 0.4)
                phases = [{"name": "pre_import", "started_at": iso(at), "finished_at": iso(pre_end)},
                          {"name": "tag_import", "started_at": iso(pre_end), "finished_at": iso(tag_end)},
                          {"name": "blob_import", "started_at": iso(tag_end), "finished_at": iso(end)}]
                if outcome == "failed":
                    phases[rnd.choice([1, 2])]["error"] = rnd.choice(["context deadline exceeded", "database connection lost",
                                                                    "storage: AccessDenied on GetObject"])
            else:
                end = at + datetime.timedelta(hours=hours)
                phases = [{"name": "import", "started_at": iso(at), "finished_at": iso(end)}]
                if outcome == "failed":
                    phases[0]["error"] = "context deadline exceeded"
            if end > datetime.datetime.combine(today, datetime.time()):
                break  # a run that would end in the future is not recorded
            api("POST", f"/api/v1/beta/programs/{slug}/enrollments/{eid}/migrations",
                {"mode": "three_step" if three else "one_step", "started_at": iso(at), "finished_at": iso(end), "outcome": outcome,
                 "storage_driver": driver, "registry_size_bytes": size, "phases": phases})
            runs += 1
            at = end + datetime.timedelta(days=2)
    for i in range(30):
        eid = by_org[f"Org {rnd.randrange(24):02d}"]
        api("POST", f"/api/v1/beta/enrollments/{eid}/feedback", {"category": rnd.choice(["docs", "import", "performance", "bug", "feature"]),
                                                                "rating": rnd.choice([2, 3, 4, 4, 5, 5]), "text": "demo feedback"})
    print(f"seeded beta program {slug}: 24 enrollments, {runs} migration runs, 30 feedback entries")
