#!/usr/bin/env bash
# make demo: turn config-example/ into a local git remote and run the reconciler against it.
set -euo pipefail
venv="${1:-.venv}"; demo="${2:-.demo}"; listen="${3:-127.0.0.1:8080}"
root="$(cd "$(dirname "$0")/.." && pwd)"
demo="$(mkdir -p "$demo" && cd "$demo" && pwd)"
remote="$demo/config.git"
if [ ! -d "$remote" ]; then
  work="$demo/config-work"
  rm -rf "$work" && cp -r "$root/config-example" "$work"
  git -C "$work" init -q -b main
  git -C "$work" add -A
  git -C "$work" -c user.name="Agent Oven demo" -c user.email=demo@localhost commit -q -m "Example jobs"
  git init -q --bare -b main "$remote"
  git -C "$work" push -q "$remote" main
  echo "demo config remote: $remote (edit $work, commit and 'git push' to change jobs)"
fi
echo "status page: http://$listen/   (Ctrl-C stops the reconciler; runs in progress are adopted next time)"
echo "status files: git -C $remote log oven-status --stat"
exec "$venv/bin/oven" run --repo "file://$remote" --branch main --status-branch oven-status \
  --listen "$listen" --interval 10 --state-dir "$demo/state"
