#!/usr/bin/env bash
# Make sure a Docker engine answers, so `make demo`, `make test` and CI work on a fresh
# Debian bookworm machine that only has Python. Safe to run any number of times:
#
#   1. `docker info` answers            -> nothing to do.
#   2. not root                          -> say what to do, exit 1.
#   3. root: install docker.io and busybox-static if missing (apt-get, noninteractive),
#      remove a stale pid file, start the engine (systemd if it runs, else dockerd in the
#      background, logging to $OVEN_DOCKERD_LOG) and wait up to $OVEN_DOCKER_WAIT seconds.
#
# Settings (environment): OVEN_DOCKERD_LOG (default /var/log/oven-dockerd.log, or under /tmp
# when /var/log is not writable), OVEN_DOCKER_WAIT (default 60), OVEN_DOCKERD_ARGS (extra
# dockerd flags, e.g. "--iptables=false" inside restricted containers), OVEN_DOCKER_PIDFILE
# (default /var/run/docker.pid).
set -euo pipefail

WAIT_SECONDS="${OVEN_DOCKER_WAIT:-60}"
PIDFILE="${OVEN_DOCKER_PIDFILE:-/var/run/docker.pid}"
DOCKERD_ARGS="${OVEN_DOCKERD_ARGS:-}"

say() { echo "ensure-docker: $*" >&2; }
die() { echo "ensure-docker: error: $*" >&2; exit 1; }

engine_answers() {
  command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

default_log() {
  if [ -n "${OVEN_DOCKERD_LOG:-}" ]; then echo "$OVEN_DOCKERD_LOG"
  elif [ -w /var/log ]; then echo /var/log/oven-dockerd.log
  else echo "${TMPDIR:-/tmp}/oven-dockerd.log"
  fi
}

explain_not_root() {
  local why="no Docker engine answers"
  if command -v docker >/dev/null 2>&1; then
    why="$(docker info 2>&1 >/dev/null | grep -v '^WARNING' | grep -m1 -i -E 'error|cannot|denied' || true)"
    [ -n "$why" ] || why="docker info failed"
  else
    why="the docker command is not installed"
  fi
  cat >&2 <<EOF
ensure-docker: error: $why
ensure-docker: this script installs and starts Docker only when run as root. Either:
  - run it as root:            sudo $0
  - or do it by hand:          sudo apt-get install docker.io busybox-static
                               sudo systemctl start docker
  - permission denied on /var/run/docker.sock? add yourself to the docker group:
                               sudo usermod -aG docker "\$USER"   (then log in again)
EOF
  exit 1
}

package_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

install_packages() {
  local missing=()
  # ca-certificates: a recommended package of docker.io that registry pulls (TLS) need
  command -v dockerd >/dev/null 2>&1 && command -v docker >/dev/null 2>&1 ||
    missing+=(docker.io ca-certificates)
  package_installed busybox-static || missing+=(busybox-static)
  [ "${#missing[@]}" -gt 0 ] || return 0
  command -v apt-get >/dev/null 2>&1 ||
    die "missing ${missing[*]} and apt-get is not available; install Docker for your system"
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

# The pid in the pid file, if that process is alive and is a dockerd; else nothing.
live_dockerd_pid() {
  [ -f "$PIDFILE" ] || return 0
  local pid
  pid="$(tr -dc '0-9' <"$PIDFILE")"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
     grep -q dockerd "/proc/$pid/comm" 2>/dev/null; then
    echo "$pid"
  fi
}

remove_stale_pidfile() {
  if [ -f "$PIDFILE" ] && [ -z "$(live_dockerd_pid)" ]; then
    say "removing stale pid file $PIDFILE"
    rm -f "$PIDFILE"
  fi
}

systemd_runs() {
  [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1
}

# Start the engine; print the pid of a dockerd we started ourselves (nothing otherwise).
start_engine() {
  if [ -n "$(live_dockerd_pid)" ]; then
    say "dockerd is already running (pid $(live_dockerd_pid)); waiting for it to answer"
    return 0
  fi
  if systemd_runs && systemctl start docker >&2 2>&1; then
    say "started docker.service with systemctl"
    return 0
  fi
  remove_stale_pidfile
  local log
  log="$(default_log)"
  say "starting dockerd in the background (log: $log)"
  # shellcheck disable=SC2086  # DOCKERD_ARGS is a list of flags
  setsid nohup dockerd --pidfile "$PIDFILE" $DOCKERD_ARGS >>"$log" 2>&1 </dev/null &
  echo "$!"
}

wait_for_engine() {
  local started_pid="$1" waited=0
  until engine_answers; do
    if [ -n "$started_pid" ] && ! kill -0 "$started_pid" 2>/dev/null; then
      say "dockerd exited; last lines of $(default_log):"
      tail -n 20 "$(default_log)" >&2 || true
      die "dockerd did not start; see the log above (OVEN_DOCKERD_ARGS adds flags)"
    fi
    if [ "$waited" -ge "$WAIT_SECONDS" ]; then
      die "no answer from Docker after ${WAIT_SECONDS}s; see $(default_log)"
    fi
    sleep 1
    waited=$((waited + 1))
  done
}

main() {
  if engine_answers; then
    say "Docker engine answers"
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || explain_not_root
  install_packages
  if engine_answers; then  # the package's service may have started it
    say "Docker engine answers"
    return 0
  fi
  local pid
  pid="$(start_engine)"
  wait_for_engine "$pid"
  say "Docker engine answers"
}

main "$@"
