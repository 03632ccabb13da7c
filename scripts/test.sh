#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what is missing, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
npm run build >/dev/null
# No test may depend on today's date: the unit suites run again with the process clock a
# year ahead and a year back (libfaketime), before the whole suite runs at today's date.
for shift in +365d -365d; do
  log="$(mktemp)"
  status=0
  faketime -f "${shift}" node --test dist/test/unit/*.test.js >"$log" 2>&1 || status=$?
  grep -E '^# (tests|pass|fail) |not ok ' "$log" | sed "s/^# /# [clock ${shift}] /"
  rm -f "$log"
  [ "$status" -eq 0 ] || { echo "unit tests failed with the clock shifted ${shift}" >&2; exit 1; }
done
npm test
