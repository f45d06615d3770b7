#!/usr/bin/env python3
"""Writes a random fleet's weekly Service Pings as NDJSON for `pingroll import`: the fleets
`pingroll estimate backtest` is measured on besides the demo. Each seed draws its own fleet:
how fast the registry metadata database is adopted (and how fast that speeds up), how often
it is switched off again, how reliably installations ping (each its own rate), quiet spells,
installations that stop for good and new ones that join, GitLab upgrades (db_enabled is sent
from 16.5 on), editions, installation types, third-party registries. Deterministic per seed;
the drawn parameters go to standard error.

usage: scripts/random-fleet.py SEED [installations] [weeks] [last-monday YYYY-MM-DD] > fleet.ndjson
"""
import datetime
import json
import random
import sys

if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
    sys.exit(__doc__)
seed = int(sys.argv[1])
installations = int(sys.argv[2]) if len(sys.argv) > 2 else 400
weeks = int(sys.argv[3]) if len(sys.argv) > 3 else 20
last_monday = datetime.date.fromisoformat(sys.argv[4]) if len(sys.argv) > 4 else datetime.date(2026, 11, 30)
if last_monday.weekday() != 0:
    sys.exit("random-fleet: last-monday must be a Monday")

rnd = random.Random(seed)
p = {
    "adoption": rnd.uniform(0.01, 0.08),        # per week, of those who could
    "speedup": rnd.uniform(0.0, 0.004),         # added to adoption each week
    "rollback": rnd.uniform(0.0, 0.03),         # per week, of those with it on
    "reliability_low": rnd.uniform(0.5, 0.9),   # each installation pings with its own rate in [low, 0.99]
    "quiet": rnd.uniform(0.0, 0.05),            # chance per week of a quiet spell of 1-6 weeks
    "churn": rnd.uniform(0.0, 0.01),            # chance per week to stop for good
    "joins": rnd.uniform(0.0, 0.01),            # new installations per week, share of the start
    "upgrade": rnd.uniform(0.02, 0.1),          # chance per week of a minor upgrade
    "third_party": rnd.uniform(0.03, 0.12),     # share with another vendor's registry
}
print(f"random-fleet seed {seed}: {installations} installations, {weeks} weeks to {last_monday}; "
      + ", ".join(f"{k} {v:.3f}" for k, v in p.items()), file=sys.stderr)

types = ["omnibus-gitlab"] * 6 + ["gitlab-helm-chart"] * 3 + ["gitlab-operator", "source"]
editions = ["CE", "EE Free", "EES", "EEP", "EEU"]
fleet = []


def join(week):
    fleet.append({
        "uuid": f"fleet{seed}-{len(fleet):05d}", "type": rnd.choice(types), "edition": rnd.choice(editions),
        "minor": rnd.randint(0, 9), "vendor": "other" if rnd.random() < p["third_party"] else "gitlab",
        "registry": rnd.random() < 0.85, "db": rnd.random() < 0.1, "slot": rnd.randrange(7 * 24),
        "reliability": rnd.uniform(p["reliability_low"], 0.99), "quiet": 0, "joined": week, "gone": False,
    })


for _ in range(installations):
    join(0)
start = last_monday - datetime.timedelta(weeks=weeks - 1)
out = sys.stdout
pings = 0
for week in range(weeks):
    if week > 0:
        for _ in range(int(installations * p["joins"]) + (1 if rnd.random() < (installations * p["joins"]) % 1 else 0)):
            join(week)
    for s in fleet:
        if s["gone"]:
            continue
        if rnd.random() < p["churn"]:
            s["gone"] = True
            continue
        if s["minor"] < 11 and rnd.random() < p["upgrade"]:
            s["minor"] += 1
        able = s["minor"] >= 5 and s["registry"] and s["vendor"] == "gitlab"
        if able and not s["db"] and rnd.random() < p["adoption"] + p["speedup"] * week:
            s["db"] = True
        elif s["db"] and rnd.random() < p["rollback"]:
            s["db"] = False
        if s["quiet"] > 0:
            s["quiet"] -= 1
            continue
        if rnd.random() < p["quiet"]:
            s["quiet"] = rnd.randint(1, 6)
            continue
        if rnd.random() > s["reliability"]:
            continue
        when = datetime.datetime.combine(start + datetime.timedelta(weeks=week), datetime.time()) + datetime.timedelta(hours=s["slot"])
        server = {"vendor": s["vendor"], "version": f"3.{80 + s['minor']}.0-gitlab"}
        if s["minor"] >= 5:
            server["db_enabled"] = s["db"]
        payload = {
            "uuid": s["uuid"], "hostname": f"{s['uuid']}.example.com", "recorded_at": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "version": f"16.{s['minor']}.1" + ("" if s["edition"] == "CE" else "-ee"), "edition": s["edition"],
            "installation_type": s["type"], "active_user_count": rnd.randint(5, 4000),
            "container_registry_enabled": s["registry"], "container_registry_server": server,
        }
        out.write(json.dumps(payload, separators=(",", ":")) + "\n")
        pings += 1
print(f"random-fleet seed {seed}: wrote {pings} pings", file=sys.stderr)
