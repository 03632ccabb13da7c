#!/usr/bin/env bash
# The demo: installs what is missing, builds, starts a gmond on loopback if none answers on
# 8649, runs gmetad-ts with gmetad.conf.example, and serves the real Ganglia web frontend
# (gweb) for it on http://127.0.0.1:8080/ganglia/ (GWEB_PORT, GWEB_BIND to change; a free
# port if 8080 is taken). Ctrl-C stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
npm run build --silent

RRDS=/tmp/gmetad-ts-demo/rrds
INTERACTIVE_PORT=8652
gmond_pid="" gmetad_pid="" gweb_pid=""
cleanup() {
  trap - INT TERM EXIT
  local pid
  for pid in $gweb_pid $gmetad_pid $gmond_pid; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $gweb_pid $gmetad_pid $gmond_pid; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 0' INT TERM

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 8649; then
  echo "demo: no gmond answers on 127.0.0.1:8649; starting one (scripts/demo-gmond.conf)"
  /usr/sbin/gmond -f -c scripts/demo-gmond.conf >/tmp/gmetad-ts-demo-gmond.log 2>&1 &
  gmond_pid=$!
fi
mkdir -p "$RRDS"

echo "demo: starting gmetad-ts (bin/gmetad -f -c gmetad.conf.example)"
bin/gmetad -f -c gmetad.conf.example &
gmetad_pid=$!
for _ in $(seq 100); do
  port_open "$INTERACTIVE_PORT" && break
  kill -0 "$gmetad_pid" 2>/dev/null || { echo "demo: gmetad-ts did not start" >&2; exit 1; }
  sleep 0.1
done

cat <<MSG
demo: gmetad-ts polls the gmond every 15 s; graphs fill in within a minute or two.
demo: Ctrl-C stops gmetad-ts, gweb and the demo gmond. Meanwhile, in another terminal:
  nc localhost 8651                                  # the whole tree, as gweb and parent gmetads read it
  echo '/?filter=summary' | nc -q 5 localhost 8652   # the interactive port (or: telnet localhost 8652)
  echo '/status' | nc -q 5 localhost 8652            # counters as JSON
  find $RRDS -name '*.rrd' | head                    # the RRD tree
MSG

# The real gweb (Debian's ganglia-webfrontend, PHP 8 fixes of test/helpers/gweb.ts) under
# php -S; it prints the URL to open once its pages answer (scripts/gweb.ts).
node dist/scripts/gweb.js --interactive-port "$INTERACTIVE_PORT" --rrd-rootdir "$RRDS" \
  --port "${GWEB_PORT:-8080}" --bind "${GWEB_BIND:-127.0.0.1}" &
gweb_pid=$!
wait -n "$gmetad_pid" "$gweb_pid" || true
