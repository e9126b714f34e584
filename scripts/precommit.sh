#!/usr/bin/env bash
# `pre-commit run --all-files` with pre-commit itself and every hook environment
# cached under $PSA_HOME (~/.cache/psa-connector): the first run installs the pinned
# hooks from PyPI and npm (about a minute), later runs take seconds. Extra arguments
# go to `pre-commit run` (e.g. a hook id). Needs python3.11 and node/npm (prettier).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PSA_HOME=${PSA_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/psa-connector}
PRE_COMMIT_VERSION=4.2.0
TOOLS=$PSA_HOME/pre-commit-$PRE_COMMIT_VERSION
if [[ ! -f "$TOOLS/.complete" ]]; then
  printf '\033[1m==> %s\033[0m\n' "Installing pre-commit $PRE_COMMIT_VERSION into $TOOLS" >&2
  rm -rf "$TOOLS"
  "${PYTHON:-python3.11}" -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q "pre-commit==$PRE_COMMIT_VERSION"
  touch "$TOOLS/.complete"
fi
export PRE_COMMIT_HOME=${PRE_COMMIT_HOME:-$PSA_HOME/pre-commit}
cd "$ROOT"
exec "$TOOLS/bin/pre-commit" run --all-files --show-diff-on-failure "$@"
