#!/usr/bin/env python3
"""Writes a GitLab-shaped ping template of about N bytes with a __UUID__ placeholder."""
import json, random, sys

size = int(sys.argv[1]) if len(sys.argv) > 1 else 150_000
rnd = random.Random(7)
payload = {
    "recorded_at": "2024-01-15T10:00:00Z", "uuid": "__UUID__", "hostname": "gitlab.load.example",
    "version": "16.5.1-ee", "edition": "EEP", "installation_type": "omnibus-gitlab", "active_user_count": 250,
    "container_registry_enabled": True,
    "container_registry_server": {"vendor": "gitlab", "version": "3.85.0-gitlab", "db_enabled": True},
    "counts": {}, "usage_activity_by_stage_monthly": {}, "redis_hll_counters": {},
}
i = 0
while len(json.dumps(payload)) < size:
    payload["counts"][f"ci_metric_{i}"] = rnd.choice([0, 0, 0, 1, rnd.randint(0, 100000), -1])
    stage = ["create", "manage", "package", "plan", "verify"][i % 5]
    payload["usage_activity_by_stage_monthly"].setdefault(stage, {})[f"{stage}_event_{i}"] = rnd.randint(0, 500)
    payload["redis_hll_counters"].setdefault("category_%d" % (i % 20), {})[f"i_event_{i}_weekly"] = rnd.randint(0, 50)
    i += 1
sys.stdout.write(json.dumps(payload))
