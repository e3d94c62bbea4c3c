#!/usr/bin/env bash
# The page tests drive a real browser: Debian's chromium (a downloaded browser build is not used).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian's chromium and chromium-driver for the page tests ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
else
  echo "error: the page tests need chromium and chromedriver: sudo apt-get install chromium chromium-driver" >&2
  exit 1
fi
