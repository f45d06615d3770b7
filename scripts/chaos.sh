#!/usr/bin/env bash
# Hostile-network trial of a release build (not part of CI: it takes minutes and loads both
# cores): kill -9 rounds under load with every acknowledged ping checked and `rollup verify`,
# then slowloris, slow-body, idle, abandoned, memory, multipart and number attacks from other
# loopback addresses while a normal client posts. Prints markdown tables; exits 1 on any loss,
# failed normal post, dead server or unclean exit.
# usage: scripts/chaos.sh [--rounds N] [--attack-seconds S] [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
PINGROLL_SETUP_EXTRA="python3" source scripts/setup.sh
swift build -c release --product pingroll >/dev/null
ulimit -n "$(ulimit -Hn)"
exec python3 scripts/chaos.py .build/release/pingroll "$@"
