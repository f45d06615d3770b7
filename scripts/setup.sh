#!/usr/bin/env bash
# Installs the system packages pingroll builds and tests with (idempotent: only what is missing).
set -euo pipefail

packages=(pkg-config libmicrohttpd-dev libsqlite3-dev zlib1g-dev libzstd-dev libpq-dev libssl-dev libcurl4-openssl-dev libjs-chart.js curl ca-certificates)
if [ "${PINGROLL_SETUP_EXTRA:-}" != "" ]; then
  read -r -a extra <<<"$PINGROLL_SETUP_EXTRA"
  packages+=("${extra[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
  # Another apt process (unattended upgrades, a second setup) may hold a lock: wait for it, up
  # to 10 minutes, instead of failing at once (apt's own timeout covers dpkg's lock; the loop
  # also covers the package lists' lock of `apt-get update`).
  apt_get() {
    local output status
    for attempt in $(seq 1 60); do
      if output=$($sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@" 2>&1); then
        return 0
      fi
      status=$?
      if ! grep -qi "could not get lock\|unable to acquire\|is another process using it" <<<"$output"; then
        echo "$output" >&2
        return "$status"
      fi
      [ "$attempt" = 1 ] && echo "setup: another package manager holds the lock; waiting (up to 10 minutes)" >&2
      sleep 10
    done
    echo "$output" >&2
    return 1
  }
  apt_get update -qq
  apt_get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
  else
    echo "setup: swift is not on PATH (Swift 6 is expected at /opt/swift)" >&2
    exit 1
  fi
fi
