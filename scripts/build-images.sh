#!/usr/bin/env bash
# Build the local images Agent Oven's tests and examples use, pulling nothing from a registry:
#
#   agent-oven/busybox:latest     FROM scratch + Debian's static busybox (package busybox-static)
#   agent-oven/base-tasks:latest  the example job image, FROM $OVEN_BASE_IMAGE
#                                 (default agent-oven/busybox:latest; with Docker Hub access
#                                 OVEN_BASE_IMAGE=debian:bookworm-slim gives the usual Debian base)
#
# Each image is labelled with a hash of its build context (and base image), so a run with
# nothing changed is a quick no-op. OVEN_FORCE_BUILD=1 rebuilds anyway.
# OVEN_BUSYBOX=/path/to/static/busybox uses another static busybox binary (non-Debian hosts).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGES="$ROOT/images"
BUSYBOX_IMAGE="agent-oven/busybox:latest"
TASKS_IMAGE="agent-oven/base-tasks:latest"
BASE_IMAGE="${OVEN_BASE_IMAGE:-$BUSYBOX_IMAGE}"
HASH_LABEL="agent-oven.context-hash"

say() { echo "build-images: $*" >&2; }
die() { echo "build-images: error: $*" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/oven-images.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

# Hash every file's path, mode and content under DIR, plus any extra strings given.
context_hash() {
  local dir="$1"; shift
  {
    (cd "$dir" && find . -type f -printf '%m %p\n' | LC_ALL=C sort)
    (cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
    printf '%s\n' "$@"
  } | sha256sum | cut -c1-32
}

image_hash() {
  docker image inspect --format "{{ index .Config.Labels \"$HASH_LABEL\" }}" "$1" 2>/dev/null || true
}

# build IMAGE CONTEXT_DIR [docker build args...]: build unless the labelled hash matches.
build() {
  local image="$1" context="$2"; shift 2
  local hash
  hash="$(context_hash "$context" "$@")"
  if [ "${OVEN_FORCE_BUILD:-0}" != "1" ] && [ "$(image_hash "$image")" = "$hash" ]; then
    say "$image is up to date ($hash)"
    return 0
  fi
  say "building $image ($hash)"
  docker build --label "$HASH_LABEL=$hash" --tag "$image" "$@" "$context" >&2
  say "built $image"
}

busybox_installed() {
  command -v dpkg-query >/dev/null 2>&1 &&
    dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed"
}

# Print the path of a static busybox binary, installing Debian's busybox-static if needed.
find_busybox() {
  if [ -n "${OVEN_BUSYBOX:-}" ]; then
    [ -x "$OVEN_BUSYBOX" ] || die "OVEN_BUSYBOX=$OVEN_BUSYBOX is not an executable file"
    echo "$OVEN_BUSYBOX"; return 0
  fi
  if ! busybox_installed; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
      say "installing busybox-static (Debian package)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >&2 ||
        { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >&2; } ||
        return 1
    else
      return 1
    fi
  fi
  echo /bin/busybox
}

build_busybox() {
  local busybox
  if ! busybox="$(find_busybox)"; then
    local how="install it with: sudo apt-get install busybox-static (or set OVEN_BUSYBOX=/path/to/static/busybox)"
    if [ "$BASE_IMAGE" != "$BUSYBOX_IMAGE" ]; then
      say "warning: no static busybox, skipping $BUSYBOX_IMAGE; $how"
      return 0
    fi
    die "a static busybox is needed to build $BUSYBOX_IMAGE; $how"
  fi
  mkdir -p "$WORK/busybox"
  cp -R "$IMAGES/busybox/." "$WORK/busybox/"
  install -m 0755 "$busybox" "$WORK/busybox/busybox"
  build "$BUSYBOX_IMAGE" "$WORK/busybox"
}

build_base_tasks() {
  local base_id
  base_id="$(docker image inspect --format '{{.Id}}' "$BASE_IMAGE" 2>/dev/null || true)"
  build "$TASKS_IMAGE" "$IMAGES/base-tasks" --build-arg "BASE=$BASE_IMAGE" \
    --label "agent-oven.base-image=$BASE_IMAGE" --label "agent-oven.base-image-id=$base_id"
}

main() {
  docker info >/dev/null 2>&1 ||
    die "no Docker engine answers; start one with scripts/ensure-docker.sh (or: sudo systemctl start docker)"
  build_busybox
  build_base_tasks
  say "images ready: $BUSYBOX_IMAGE $TASKS_IMAGE (base $BASE_IMAGE)"
}

main "$@"
