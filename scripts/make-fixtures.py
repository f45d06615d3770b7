#!/usr/bin/env python3
"""Writes the GitLab-shaped Service Ping fixtures used by the payload extraction tests.

The shapes follow GitLab's payloads of each version: 15.x has container_registry_server without
db_enabled, 16.4 likewise, 16.5+ adds db_enabled. Values are made up; keys are real metric paths.
Run from the repository root: python3 scripts/make-fixtures.py
"""
import json
import random

OUT = "Tests/PingRollCoreTests/Fixtures"


def base(seed, uuid, hostname, version, edition, installation_type, recorded_at):
    rnd = random.Random(seed)
    counts = {f"{k}": rnd.randint(0, 50000) for k in [
        "assignee_lists", "boards", "ci_builds", "ci_internal_pipelines", "ci_external_pipelines",
        "ci_pipeline_config_auto_devops", "ci_pipeline_config_repository", "ci_triggers", "clusters",
        "container_expiration_policies_enabled", "container_expiration_policies_disabled",
        "deployments", "successful_deployments", "failed_deployments", "environments", "issues",
        "merge_requests", "notes", "projects", "projects_with_repositories_enabled",
        "projects_with_packages", "packages", "package_events_i_package_container_push",
        "projects_with_expiration_policy_enabled", "projects_with_expiration_policy_disabled",
        "releases", "snippets", "todos", "uploads", "web_hooks", "groups", "keys", "labels",
        "lfs_objects", "milestones", "pages_domains", "protected_branches", "remote_mirrors",
    ]}
    counts["projects_with_error_tracking_enabled"] = -1  # a metric that timed out
    counts_monthly = {f"{k}": rnd.randint(0, 5000) for k in [
        "deployments", "successful_deployments", "failed_deployments", "projects", "packages",
        "personal_snippets", "project_snippets"]}
    stages = {}
    for stage in ["create", "manage", "monitor", "package", "plan", "release", "secure", "verify"]:
        stages[stage] = {f"{stage}_metric_{i}": rnd.randint(0, 1000) for i in range(12)}
    stages["package"].update({"projects_with_packages": rnd.randint(0, 300)})
    hll = {}
    for category in ["analytics", "ci_templates", "code_review", "ide_edit", "incident_management", "source_code"]:
        hll[category] = {}
        for event in range(10):
            name = f"i_{category}_event_{event}"
            hll[category][f"{name}_weekly"] = rnd.randint(0, 200)
            hll[category][f"{name}_monthly"] = rnd.randint(0, 800)
    return {
        "recorded_at": recorded_at,
        "uuid": uuid,
        "hostname": hostname,
        "version": version,
        "installation_type": installation_type,
        "active_user_count": rnd.randint(1, 5000),
        "edition": edition,
        "license_md5": "" if edition == "CE" else "c701acc03844c45366dd175ef7a4e19c",
        "license_plan": None if edition == "CE" else {"EEP": "premium", "EEU": "ultimate"}.get(edition, "starter"),
        "mattermost_enabled": False,
        "gitlab_pages": {"enabled": True, "version": version.split("-")[0]},
        "git": {"version": {"major": 2, "minor": 41, "patch": 0}},
        "gitaly": {"version": version.split("-")[0], "servers": rnd.randint(1, 4), "clusters": 0,
                   "filesystems": ["EXT_2_3_4"]},
        "database": {"adapter": "postgresql", "version": "13.11", "pg_system_id": rnd.randint(10**18, 10**19),
                     "flavor": "PostgreSQL"},
        "counts": counts,
        "counts_monthly": counts_monthly,
        "usage_activity_by_stage": stages,
        "usage_activity_by_stage_monthly": stages,
        "redis_hll_counters": hll,
        "settings": {"ldap_encrypted_secrets_enabled": False, "operating_system": "ubuntu-22.04",
                     "gitaly_apdex": 0.995, "collected_data_categories": ["standard", "subscription", "operational", "optional"]},
        "topology": {"duration_s": 0.12, "application_requests_per_hour": rnd.randint(10, 9000),
                     "nodes": [{"node_memory_total_bytes": 33269903360, "node_cpus": 8,
                                "node_services": [{"name": "web", "process_count": 16},
                                                  {"name": "sidekiq", "process_count": 1},
                                                  {"name": "registry", "process_count": 1}]}]},
    }


def write(name, payload):
    with open(f"{OUT}/{name}", "w") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")


p = base(1, "2c6b0a0e-6a5b-4a3f-9b1c-15a1100ce0001", "gitlab.example.org", "15.11.13", "CE", "omnibus-gitlab",
         "2023-08-14T09:21:44.123Z")
p["container_registry_enabled"] = True
p["container_registry_server"] = {"vendor": "gitlab", "version": "3.60.2-gitlab"}
write("gitlab-15.11-ce-omnibus.json", p)

p = base(2, "6f1f6a54-0e4b-4bd6-8c53-164e11e1e1e2", "GitLab.Corp.Example.COM ", "16.4.1-ee", "EEP", "gitlab-helm-chart",
         "2023-10-02 03:15:09 UTC")
p["container_registry_enabled"] = True
p["container_registry_server"] = {"vendor": "gitlab", "version": "3.83.0-gitlab"}
write("gitlab-16.4-ee-helm.json", p)

p = base(3, "b7d5c1aa-95e9-4b7c-a0a1-165eeeab0003", "registry-heavy.example.net", "16.5.1-ee", "EEU", "omnibus-gitlab",
         "2023-11-20T23:59:59.999+00:00")
p["container_registry_enabled"] = True
p["container_registry_server"] = {"vendor": "gitlab", "version": "3.85.0-gitlab", "db_enabled": True}
write("gitlab-16.5-ee-omnibus-db-enabled.json", p)

p = base(4, "0d3e6f1b-4c0b-4f9f-8d2e-168ce0000004", "git.small-team.dev", "16.8.2", "CE", "omnibus-gitlab",
         "2024-02-12T10:00:00+02:00")
p["container_registry_enabled"] = False
p["container_registry_server"] = {"vendor": "", "version": "", "db_enabled": False}
write("gitlab-16.8-ce-omnibus-registry-off.json", p)

p = base(5, "9a8b7c6d-5e4f-4a3b-8c2d-172ee0000005", "gitlab.helm.example.io", "17.2.0-ee", "EES", "gitlab-helm-chart",
         "2024-07-22T06:30:00Z")
p["active_user_count"] = -1  # failed metric
p["container_registry_enabled"] = True
p["container_registry_server"] = {"vendor": "other", "version": 2.8, "db_enabled": False}  # type drift
write("gitlab-17.2-ee-helm-third-party-registry.json", p)
