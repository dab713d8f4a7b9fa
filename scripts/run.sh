#!/usr/bin/env bash
# README's main command: installs the build dependencies, builds the `tooljail` binary alone
# (no tests, benchmarks or fuzzers) into build/, then runs `tooljail run` with the given
# arguments, e.g.  scripts/run.sh -- /bin/sh -c 'echo hi'
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/install-deps.sh" build
"$ROOT/scripts/build.sh" "$ROOT/build" --target tooljail -DTOOLJAIL_TESTS=OFF -DTOOLJAIL_BENCH=OFF
exec "$ROOT/build/tooljail" run "$@"
