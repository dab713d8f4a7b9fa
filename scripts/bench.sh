#!/usr/bin/env bash
# Builds the launch-latency benchmark (Release) and runs it: bare posix_spawn, bubblewrap and
# tooljail's shipped policies launching /bin/true, back-to-back, after 50 ms idle and with two
# workers; three repetitions in random interleaved order, so load drifting during the run spreads
# over every launcher instead of landing on one. The tables show the median of the repetitions.
# Usage: scripts/bench.sh [RESULTS_JSON] [extra benchmark flags...]
# Default RESULTS_JSON is build-bench/bench-results.json (every repetition and the aggregates);
# the console table goes to stdout and to the same path with .txt instead of .json. The run takes
# about 50 s on 2 cores, plus the build. Then the exec-cost table (bench/exec_cost.cc, about 25 s;
# <RESULTS>-exec.txt). Then the stdio MCP tools/call round trip
# (bench/mcp/roundtrip.mjs, about 40 s): `tooljail serve` against the unsandboxed Node.js server
# mcp-server-commands 0.5.0, both driven by the official SDK client; its tables go to
# <RESULTS>-mcp.txt/.json. TOOLJAIL_BENCH_MCP=0 skips it. Needs root or unprivileged user
# namespaces (as tooljail itself does). Results are only comparable on an otherwise idle
# machine. See docs/BENCHMARKS.md.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$ROOT/build-bench"
OUT="$(realpath -m "${1:-$BUILD/bench-results.json}")"  # absolute: we cd below
shift || true

# The only installing this script does: the lead's dependency script, when it exists.
if [[ -f "$ROOT/scripts/install-deps.sh" ]]; then
  bash "$ROOT/scripts/install-deps.sh"
fi

cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTOOLJAIL_BENCH=ON >/dev/null
ninja -C "$BUILD" tooljail_bench tooljail_exec_cost tooljail >&2

mkdir -p "$(dirname "$OUT")"
# Run from the source tree so default_policy_dir() finds policies/ even without an install.
cd "$ROOT"
TOOLJAIL_POLICY_DIR="${TOOLJAIL_POLICY_DIR:-$ROOT/policies}" \
  "$BUILD/bench/tooljail_bench" \
  --benchmark_repetitions=3 --benchmark_enable_random_interleaving=true \
  --benchmark_display_aggregates_only=true \
  --benchmark_out="$OUT" --benchmark_out_format=json \
  --benchmark_counters_tabular=true "$@" | tee "${OUT%.json}.txt"
echo "bench: results in $OUT" >&2

# The exec step of a warm launch against the size of the process the child was cloned from.
"$BUILD/bench/tooljail_exec_cost" | tee "${OUT%.json}-exec.txt"
echo "bench: exec cost in ${OUT%.json}-exec.txt" >&2

if [[ "${TOOLJAIL_BENCH_MCP:-1}" != 0 ]]; then
  # Pinned by bench/mcp/package-lock.json: the SDK client and mcp-server-commands 0.5.0.
  (cd "$ROOT/bench/mcp" && npm ci --no-audit --no-fund --loglevel=error)
  node "$ROOT/bench/mcp/roundtrip.mjs" --tooljail "$BUILD/tooljail" --json "${OUT%.json}-mcp.json" \
    | tee "${OUT%.json}-mcp.txt"
  echo "bench: MCP round trip in ${OUT%.json}-mcp.json" >&2
fi
