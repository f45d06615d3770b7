#!/usr/bin/env bash
# Sets everything up and runs the whole test suite: unit, store contract (SQLite and a throwaway
# PostgreSQL 15), HTTP and end-to-end tests (real `pingroll serve` processes on loopback).
# The PostgreSQL server is stopped on exit, also when tests fail.
set -euo pipefail
cd "$(dirname "$0")/.."
PINGROLL_SETUP_EXTRA="python3 python3-jsonschema python3-yaml python3-venv postgresql-15 chromium wrk openssl curl systemd" source scripts/setup.sh
# The python3 on PATH when it has the validators (this machine kind's has openapi-spec-validator), else Debian's.
py=python3
python3 -c 'import jsonschema, yaml' 2>/dev/null || py=/usr/bin/python3
"$py" scripts/validate-schemas.py
"$py" scripts/embed-defaults.py --check
# The layout rules that hold themselves (rows by column name, no status chosen by error text).
scripts/check-layout.sh
swift build --build-tests
source scripts/playwright-venv.sh
source scripts/smtp-venv.sh
source scripts/postgres.sh
trap pg_throwaway_stop EXIT
pg_throwaway_start
swift test --skip-build "$@"
# The OpenAPI contract, checked against a real server with a token of each role.
scripts/schemathesis.sh
# The systemd unit parses and names a real binary (systemd-analyze, with the unit pointed at the build).
unit_dir=$(mktemp -d)
sed "s#/usr/local/bin/pingroll#$PWD/.build/debug/pingroll#" contrib/pingroll.service > "$unit_dir/pingroll.service"
systemd-analyze verify "$unit_dir/pingroll.service"
rm -rf "$unit_dir"
# GET /metrics parsed by a real Prometheus parser, and the JSON access log, against a real server.
scripts/metrics-check.sh
# Smoke runs of every benchmark command (about a second each; their figures mean nothing here).
.build/debug/pingroll-bench rollup-cost --pings 400 --installations 40 --batch 50
.build/debug/pingroll-bench query-cost --pings 520 --runs 3
# The same on the throwaway PostgreSQL (its public schema, which no test uses).
.build/debug/pingroll-bench query-cost --pings 520 --runs 3 --postgres "$PINGROLL_TEST_POSTGRES_URL"
# Retention on PostgreSQL (whole months by partition swap) beside a writer, in schemas of its own.
.build/debug/pingroll-bench retention --postgres "$PINGROLL_TEST_POSTGRES_URL" --pings 600
.build/debug/pingroll-bench beta-export --enrollments 300
.build/debug/pingroll-bench extract --bytes 20000 --millis 200
.build/debug/pingroll-bench storage --installations 3 --weeks 2 --bytes 20000
scripts/bench.sh --smoke
# Replays each fuzz target's corpus through its parsers.
.build/debug/pingroll-fuzz fuzz/corpus/*
for target in multipart cohort query config; do PINGROLL_FUZZ_TARGET=$target .build/debug/pingroll-fuzz fuzz/corpus-$target/*; done
