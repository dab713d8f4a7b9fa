#!/usr/bin/env bash
# Configures and builds tooljail. Warnings are errors (as in CI).
#   scripts/build.sh [BUILD_DIR] [--target TARGET] [extra cmake args...]
# Default BUILD_DIR is build/, default target everything the configuration enables (the tests
# and benchmarks unless -DTOOLJAIL_TESTS=OFF / -DTOOLJAIL_BENCH=OFF).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
shift || true
TARGET=()
if [[ "${1:-}" == --target ]]; then
  TARGET=("$2")
  shift 2
fi
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DTOOLJAIL_WERROR=ON "$@" >/dev/null
ninja -C "$BUILD" "${TARGET[@]}" >&2
