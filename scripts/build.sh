#!/usr/bin/env bash
# Configures and builds tooljail. Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
# Default BUILD_DIR is build/. Warnings are errors (as in CI).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
shift || true
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DTOOLJAIL_WERROR=ON "$@" >/dev/null
ninja -C "$BUILD" >&2
