#!/usr/bin/env bash
# Runs schemathesis (PyPI, pinned) against a real `pingroll serve` on a throwaway SQLite
# database, once with a token of each role, every check on (scripts/schemathesis.toml lists the
# few operations whose rules OpenAPI cannot state); fails on any finding. Needs a built
# .build/debug/pingroll. SCHEMATHESIS_SEED picks the seed (default fixed, for reproducible CI).
set -euo pipefail
cd "$(dirname "$0")/.."
version=4.32.5
venv=.build-venv/schemathesis
if [ ! -x "$venv/bin/schemathesis" ] || ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q " $version\$"; then
  rm -rf "$venv"
  # Debian's python3 (python3-venv is installed by scripts/setup.sh's callers).
  /usr/bin/python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi
source scripts/throwaway-serve.sh
throwaway_serve schemathesis
# Every check but use_after_free: the API's one DELETE (/api/v1/jobs/{id}) cancels a job, which
# stays readable (state `cancelled`) as a record of what ran; "a deleted resource is gone" does not apply.
for role in admin pm viewer; do
  token=$(.build/debug/pingroll token create --role "$role" --name "schemathesis-$role" --database "$dir/db.sqlite3" | tail -1)
  echo "schemathesis: $role token against $url" >&2
  "$venv/bin/schemathesis" --no-color --config-file scripts/schemathesis.toml run schemas/openapi.yaml --url "$url" \
    -H "Authorization: Bearer $token" --checks all --exclude-checks use_after_free --seed "${SCHEMATHESIS_SEED:-20261201}" --suppress-health-check all
done
