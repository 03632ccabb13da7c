#!/usr/bin/env bash
# Prepares a Debian machine for building and testing gmetad-ts.
#  - installs the reference daemons the integration tests run against
#    (gmetad, ganglia-monitor = gmond, rrdtool, rrdcached), only if missing;
#  - installs the real Ganglia web frontend (gweb) and the PHP it runs on, for the
#    gweb integration test (ganglia-webfrontend php-cli php-xml php-gd), only if missing;
#  - installs the receivers the exporters are tested against (prometheus,
#    victoria-metrics, influxdb), only if missing;
#  - never lets the package install start their system services (they would take
#    ports 8649/8651/8652 and 80, and write under /var/lib/ganglia);
#  - runs `npm ci` when node_modules is missing or does not match package-lock.json.
# Idempotent and quiet on success; run as root from anywhere.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PACKAGES=(gmetad ganglia-monitor rrdtool rrdcached)
# libfaketime: the unit suites also run with the clock a year ahead and a year back.
PACKAGES+=(faketime)
# gweb runs from a private copy under `php -S` (test/helpers/gweb.ts); the package's
# apache2 dependency is installed but never started (see policy-rc.d below).
PACKAGES+=(ganglia-webfrontend php-cli php-xml php-gd)
# The packaging tests: `man -l` renders the man page, `systemd-analyze verify` checks the
# systemd unit; headless Chromium takes screenshots of gweb showing our graphs.
PACKAGES+=(man-db systemd chromium)
# Real receivers for the exporter tests: carbon-cache and whisper-fetch (graphite-carbon,
# python3-whisper), carbon-c-relay, memcached, and libmemcached's memccat (libmemcached-tools)
# to read keys back as libmemcached places them. Their services are never started.
PACKAGES+=(graphite-carbon python3-whisper carbon-c-relay memcached libmemcached-tools)
# Real receivers for the push exporters' tests (remote_write, influxdb), each started by
# the test on free ports with a private data directory, never as a service.
PACKAGES+=(prometheus victoria-metrics influxdb)
# The /metrics exporter's tests: promtool (in prometheus) checks the exposition, a real
# Prometheus scrapes it, node_exporter serves the textfile plugin's .prom file.
PACKAGES+=(prometheus-node-exporter)
# The commands scripts/demo.sh and the README print for looking at the ports (`nc`).
PACKAGES+=(netcat-openbsd)

log() { printf 'setup: %s\n' "$*" >&2; }

package_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

POLICY=/usr/sbin/policy-rc.d
POLICY_IS_OURS=0
remove_our_policy() {
  if [ "$POLICY_IS_OURS" = 1 ]; then rm -f "$POLICY"; fi
}
trap remove_our_policy EXIT

install_missing_packages() {
  local missing=() pkg
  for pkg in "${PACKAGES[@]}"; do
    package_installed "$pkg" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0

  if [ "$(id -u)" -ne 0 ]; then
    log "need root to install: ${missing[*]}"
    exit 1
  fi
  # A policy-rc.d that exits 101 makes invoke-rc.d refuse every service start
  # during the install. Keep an existing one (e.g. Docker's) untouched.
  if [ ! -e "$POLICY" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$POLICY"
    chmod 0755 "$POLICY"
    POLICY_IS_OURS=1
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Update the package lists only if the install cannot find something.
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/gmetad-ts-setup-apt.log 2>&1; then
    apt-get update -qq >>/tmp/gmetad-ts-setup-apt.log 2>&1
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >>/tmp/gmetad-ts-setup-apt.log 2>&1 || {
      log "apt-get install failed, see /tmp/gmetad-ts-setup-apt.log"
      exit 1
    }
  fi
  remove_our_policy
  POLICY_IS_OURS=0
}

# Stops the Debian system instances (started by the package or an earlier boot) so
# the well-known ports stay free. Only the init-script instances are touched: they
# run with the packaged config files, test daemons never do.
stop_system_services() {
  local service initscript daemon config pid
  for service in ganglia-monitor:gmond:/etc/ganglia/gmond.conf gmetad:gmetad:/etc/ganglia/gmetad.conf; do
    IFS=: read -r initscript daemon config <<<"$service"
    for pid in $(pgrep -x "$daemon" 2>/dev/null || true); do
      # The packaged instances run without -c or with the packaged config.
      local args
      args="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
      case "$args" in
        *" -c "*) [[ "$args" == *" -c $config "* ]] || continue ;;
      esac
      log "stopping system $daemon (pid $pid)"
      if [ -x "/etc/init.d/$initscript" ]; then
        "/etc/init.d/$initscript" stop >/dev/null 2>&1 || true
      fi
      kill "$pid" 2>/dev/null || true
    done
  done
}

node_modules_current() {
  [ -d "$REPO/node_modules" ] || return 1
  (cd "$REPO" && npm ls --all >/dev/null 2>&1)
}

install_missing_packages
stop_system_services
if ! node_modules_current; then
  log "running npm ci"
  (cd "$REPO" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
