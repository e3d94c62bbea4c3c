#!/usr/bin/env bash
# make demo: turn config-example/ into a local git remote and run the reconciler against it.
set -euo pipefail
venv="${1:-.venv}"; demo="${2:-.demo}"; listen="${3:-127.0.0.1:8080}"
root="$(cd "$(dirname "$0")/.." && pwd)"
demo="$(mkdir -p "$demo" && cd "$demo" && pwd)"
remote="$demo/config.git"
work="$demo/config-work"
if [ ! -d "$remote" ]; then
  rm -rf "$work" && cp -r "$root/config-example" "$work"
  git -C "$work" init -q -b main
  git -C "$work" add -A
  git -C "$work" -c user.name="Agent Oven demo" -c user.email=demo@localhost commit -q -m "Example jobs"
  git init -q --bare -b main "$remote"
fi
# the working copy pushes to the demo remote (also for a .demo/ made before it had a remote)
if [ -d "$work/.git" ] && ! git -C "$work" remote get-url origin >/dev/null 2>&1; then
  git -C "$work" remote add origin "$remote"
  if git --git-dir "$remote" rev-parse -q --verify refs/heads/main >/dev/null; then
    git -C "$work" fetch -q origin && git -C "$work" branch -q -u origin/main main
  else
    git -C "$work" push -q -u origin main
  fi
fi
echo "demo config remote: $remote"
echo "change jobs: edit $work/jobs/*.yaml, then: cd $work && git commit -am 'my change' && git push"
echo "status page: http://$listen/   (Ctrl-C stops the reconciler; runs in progress are adopted next time)"
echo "status files: git -C $remote log oven-status --stat"
exec "$venv/bin/oven" run --repo "file://$remote" --branch main --status-branch oven-status \
  --listen "$listen" --interval 10 --state-dir "$demo/state"
