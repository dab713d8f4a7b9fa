#!/usr/bin/env bash
# README's main command: installs dependencies, builds, then runs `tooljail run` with the given
# arguments, e.g.  scripts/run.sh -- /bin/sh -c 'echo hi'
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/install-deps.sh"
"$ROOT/scripts/build.sh" "$ROOT/build"
exec "$ROOT/build/tooljail" run "$@"
