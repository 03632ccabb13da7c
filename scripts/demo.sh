#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts a gmond on loopback if none answers on
# 8649, then runs gmetad-ts in the foreground with gmetad.conf.example. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
npm run build --silent

gmond_pid=""
cleanup() { [ -n "$gmond_pid" ] && kill "$gmond_pid" 2>/dev/null && wait "$gmond_pid" 2>/dev/null; true; }
trap cleanup EXIT

if ! (exec 3<>/dev/tcp/127.0.0.1/8649) 2>/dev/null; then
  echo "demo: no gmond answers on 127.0.0.1:8649; starting one (scripts/demo-gmond.conf)"
  /usr/sbin/gmond -f -c scripts/demo-gmond.conf >/tmp/gmetad-ts-demo-gmond.log 2>&1 &
  gmond_pid=$!
fi
mkdir -p /tmp/gmetad-ts-demo/rrds

cat <<MSG
demo: gmetad-ts is starting in the foreground (Ctrl-C to stop). In another terminal:
  nc localhost 8651                                  # the whole tree, as gweb and parent gmetads read it
  echo '/?filter=summary' | nc -q 5 localhost 8652   # the interactive port (or: telnet localhost 8652)
  echo '/status' | nc -q 5 localhost 8652            # counters as JSON
  find /tmp/gmetad-ts-demo/rrds -name '*.rrd' | head # the RRD tree
MSG
bin/gmetad -f -c gmetad.conf.example &
gmetad_pid=$!
trap 'kill -TERM $gmetad_pid 2>/dev/null' INT TERM
wait "$gmetad_pid" || true
wait "$gmetad_pid" 2>/dev/null || true
