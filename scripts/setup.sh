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
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then
    export PATH="/opt/swift/usr/bin:$PATH"
  else
    echo "setup: swift is not on PATH (Swift 6 is expected at /opt/swift)" >&2
    exit 1
  fi
fi
