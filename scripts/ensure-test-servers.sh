#!/usr/bin/env bash
# The remote tests start real servers on loopback: git daemon and git http-backend (package git)
# and sshd (package openssh-server, started by the tests with their own keys, never as a service).
set -euo pipefail
if [ -x /usr/sbin/sshd ] || command -v sshd >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's openssh-server for the ssh remote tests (the service is not started) ..."
  apt-get update -qq
  # policy-rc.d: do not start the ssh service on install; the tests run their own sshd
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server >/dev/null || status=$?
  rm -f /usr/sbin/policy-rc.d
  exit "${status:-0}"
else
  echo "note: sshd is not installed, so the ssh remote tests will be skipped: sudo apt-get install openssh-server" >&2
fi
