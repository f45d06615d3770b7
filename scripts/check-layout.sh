#!/usr/bin/env bash
# The layout rules the test command checks, so that they hold without a reviewer (issue 26):
#   1. No file under Sources/PingRollHTTP imports PingRollStore: routes reach storage through
#      the services of PingRollService (PingRollServices).
#   3. No row is read by position in Sources/PingRollStore: rows are read by column name
#      (ColumnList / NamedRow; the one-value helpers in NamedRow.swift excepted).
#   2. No JSONSerialization (nor objCType) outside Sources/PingRollCore/JSON: JSON goes through
#      Codable types or JSONTree (the benchmark's Foundation baseline excepted).
#   4. No handler chooses a status by the text of an error: errors carry their kind.
#   Each C library (a Sources/C* system-library target) is imported by exactly one Swift module.
set -euo pipefail
cd "$(dirname "$0")/.."
failed=0
positional=$(grep -rnE '\[[0-9]+\]\.(int64|string|double|bool|blob|bytes)|\.first\??\.(int64|string|double|bool|blob|bytes)|\$0\.first\b|\brow\.first\b' \
  Sources/PingRollStore --include='*.swift' | grep -v 'Schema/NamedRow.swift' || true)
if [ -n "$positional" ]; then
  echo "layout: rows read by position in Sources/PingRollStore (read them by column name with ColumnList):" >&2
  echo "$positional" >&2
  failed=1
fi
by_text=$(grep -rnE '(description|message|reason|localizedDescription)\.(hasPrefix|hasSuffix|contains|starts)\(' \
  Sources/PingRollHTTP Sources/PingRollService --include='*.swift' || true)
if [ -n "$by_text" ]; then
  echo "layout: a status or branch chosen by the text of an error (give the error a kind):" >&2
  echo "$by_text" >&2
  failed=1
fi
serialization=$(grep -rnE 'JSONSerialization|objCType' Sources --include='*.swift' | grep -v -e '^Sources/PingRollCore/JSON/' -e '^Sources/pingroll-bench/' || true)
if [ -n "$serialization" ]; then
  echo "layout: JSONSerialization outside Sources/PingRollCore/JSON (use a Codable type or JSONTree):" >&2
  echo "$serialization" >&2
  failed=1
fi
for dir in Sources/C*/; do
  module=$(basename "$dir")
  importers=$(grep -rl "^import $module\$" Sources --include='*.swift' | cut -d/ -f2 | sort -u || true)
  if [ "$(echo "$importers" | grep -c .)" -gt 1 ]; then
    echo "layout: $module is imported by more than one module:" $importers >&2
    failed=1
  fi
done
store_imports=$(grep -rln '^import PingRollStore' Sources/PingRollHTTP --include='*.swift' || true)
if [ -n "$store_imports" ]; then
  echo "layout: files under Sources/PingRollHTTP import PingRollStore (call a service of PingRollService instead):" >&2
  echo "$store_imports" >&2
  failed=1
fi
exit $failed
