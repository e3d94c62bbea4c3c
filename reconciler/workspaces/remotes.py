"""The git settings that pass a source repo's credentials by name, never by value.

The credential helper and the ssh command are written into a checkout's ``.git/config``
(and given to the host's clone); they read environment variables when git runs them.
"""

from __future__ import annotations

__all__ = ["HTTPS_HELPER", "SSH_COMMAND", "refused"]

# git runs a helper starting with "!" through the shell with "get"/"store"/"erase" appended
HTTPS_HELPER = (
    '!f() { test "$1" = get || exit 0; '
    'token="${OVEN_GIT_TOKEN:-${GH_TOKEN:-$GITHUB_TOKEN}}"; test -n "$token" || exit 0; '
    'echo username=x-access-token; echo "password=$token"; }; f'
)
# git runs core.sshCommand through the shell with the ssh arguments appended
SSH_COMMAND = (
    'sh -c \'set -e; if [ -n "$OVEN_GIT_SSH_KEY" ]; then k=$(mktemp); '
    'printf "%s\\n" "$OVEN_GIT_SSH_KEY" > "$k"; chmod 600 "$k"; '
    'exec ssh -i "$k" -o IdentitiesOnly=yes -o StrictHostKeyChecking=accept-new "$@"; fi; '
    'exec ssh "$@"\' oven-ssh'
)
_REFUSED = (
    "Authentication failed",
    "could not read Username",
    "could not read Password",
    "Permission denied",
    "The requested URL returned error: 401",
    "The requested URL returned error: 403",
    "Host key verification failed",
)


def refused(stderr: str) -> bool:
    """git's output says the remote refused our credentials."""
    return any(text in stderr for text in _REFUSED)
