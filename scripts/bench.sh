#!/usr/bin/env bash
# Builds the launch-latency benchmark (Release) and runs it once: bare posix_spawn, bubblewrap and
# tooljail's shipped policies launching /bin/true, back-to-back, after 50 ms idle and with two
# workers. Usage: scripts/bench.sh [RESULTS_JSON] [extra benchmark flags...]
# Default RESULTS_JSON is build-bench/bench-results.json; the console table goes to stdout and to
# the same path with .txt instead of .json. Takes about a minute on 2 cores. Needs root or
# unprivileged user namespaces (as tooljail itself does). See docs/BENCHMARKS.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build-bench"
OUT="${1:-$BUILD/bench-results.json}"
shift || true

if [[ -x "$ROOT/scripts/install-deps.sh" ]]; then
  "$ROOT/scripts/install-deps.sh"
fi

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTOOLJAIL_BENCH=ON >/dev/null
ninja -C "$BUILD" tooljail_bench >&2

mkdir -p "$(dirname "$OUT")"
# Run from the source tree so default_policy_dir() finds policies/ even without an install.
cd "$ROOT"
TOOLJAIL_POLICY_DIR="${TOOLJAIL_POLICY_DIR:-$ROOT/policies}" \
  "$BUILD/bench/tooljail_bench" \
  --benchmark_out="$OUT" --benchmark_out_format=json \
  --benchmark_counters_tabular=true "$@" | tee "${OUT%.json}.txt"
echo "bench: results in $OUT" >&2
