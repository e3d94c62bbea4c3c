#!/usr/bin/env bash
# Real servers and tools the tests start themselves: git daemon and git http-backend (package
# git), sshd (package openssh-server, started by the tests with their own keys, never as a
# service) and docker-compose (package docker-compose, for deploy/compose.yaml).
set -euo pipefail
missing=()
if ! [ -x /usr/sbin/sshd ] && ! command -v sshd >/dev/null 2>&1; then
  missing+=(openssh-server)
fi
if ! command -v docker-compose >/dev/null 2>&1; then
  missing+=(docker-compose)
fi
[ ${#missing[@]} -gt 0 ] || exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's ${missing[*]} for the tests (no service is started) ..."
  # policy-rc.d: do not start the ssh service on install; the tests run their own sshd
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; } ||
    status=$?
  rm -f /usr/sbin/policy-rc.d
  exit "${status:-0}"
else
  echo "note: ${missing[*]} not installed, so the tests needing them will be skipped: sudo apt-get install ${missing[*]}" >&2
fi
