#!/usr/bin/env bash
# Create the virtual environment and install the package with its dev tools.
# On a fresh Debian machine python3 may lack the venv module: install it when we are root.
set -euo pipefail
venv="${1:-.venv}"
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing python3-venv (Debian) ..."
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    echo "error: python3 cannot create virtual environments; install python3-venv (sudo apt-get install python3-venv)" >&2
    exit 1
  fi
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
"$venv/bin/python" -m pip install -q -e '.[dev]'
echo "virtual environment ready in $venv"
