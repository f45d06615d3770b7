#!/usr/bin/env python3
"""Posts a realistic demo history to a running pingroll: N installations pinging weekly for W weeks,
with registry metadata database adoption growing from GitLab 16.5 on. Deterministic (seeded).

usage: scripts/seed-demo.py http://127.0.0.1:PORT [installations] [weeks] [last-monday YYYY-MM-DD]
"""
import datetime
import json
import random
import sys
import urllib.request

base = sys.argv[1]
installations = int(sys.argv[2]) if len(sys.argv) > 2 else 240
weeks = int(sys.argv[3]) if len(sys.argv) > 3 else 16
last_monday = datetime.date.fromisoformat(sys.argv[4]) if len(sys.argv) > 4 else datetime.date(2026, 11, 16)
rnd = random.Random(42)
types = ["omnibus-gitlab"] * 6 + ["gitlab-helm-chart"] * 3 + ["gitlab-operator", "source"]
editions = ["CE", "EE Free", "EES", "EEP", "EEP", "EEU"]
state = []
for i in range(installations):
    state.append({
        "uuid": f"demo-{i:04d}", "type": rnd.choice(types), "edition": rnd.choice(editions),
        "minor": rnd.choice([3, 4, 5, 6, 7, 8, 9]), "vendor": "other" if rnd.random() < 0.08 else "gitlab",
        "registry": rnd.random() < 0.85, "db": False, "slot": rnd.randrange(7 * 24),
    })
start = last_monday - datetime.timedelta(weeks=weeks - 1)
for week in range(weeks):
    for s in state:
        if rnd.random() < 0.06 and s["minor"] < 11:
            s["minor"] += 1  # upgrades
        if s["minor"] >= 5 and s["registry"] and s["vendor"] == "gitlab" and not s["db"]:
            s["db"] = rnd.random() < 0.04 + 0.012 * week  # adoption grows
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
        request = urllib.request.Request(base + "/usage_data", data=json.dumps(payload).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            assert response.status == 201, response.status
print(f"seeded {installations * weeks} pings: {installations} installations x {weeks} weeks ending {last_monday}")
