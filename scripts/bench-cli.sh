#!/usr/bin/env bash
# The CLI as a whole process: `tooljail run --workspace W -- /bin/true` against bare /bin/true and
# bubblewrap (the launch benchmark's bwrap flags), each a separate process timed from spawn to
# reap, rounds interleaved in random order, medians and pair-by-pair ratios of wall and CPU time
# (bench/cli_ab.py; docs/BENCHMARKS.md, "The CLI as a whole process").
#
# Usage: scripts/bench-cli.sh [--tooljail PATH] [--no-install] [cli_ab.py options...]
#   --tooljail PATH  measure this binary (default: build it, Release, in build-bench/)
#   --no-install     do not run scripts/install-deps.sh (the ctest smoke run, a read-only guest)
#   --runs N (40), --warmup N (5), --gap-ms MS (50), --json FILE, --records DIR,
#   --baseline PATH (a second tooljail binary, e.g. the previous commit's): see cli_ab.py
# The records go to a new directory under /var/tmp (a disk on most hosts, so the two fdatasyncs
# of each run's record are real) unless --records names one. Needs root or unprivileged user
# namespaces, as tooljail and bwrap do. Timings are only comparable within one run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLJAIL=""
INSTALL=1
ARGS=()
while (($#)); do
  case "$1" in
    --tooljail) TOOLJAIL="$2"; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    *) ARGS+=("$1"); shift ;;
  esac
done

if ((INSTALL)) && [[ -f "$ROOT/scripts/install-deps.sh" ]]; then
  bash "$ROOT/scripts/install-deps.sh"  # bubblewrap, python3 and the build dependencies
fi
for tool in python3 bwrap; do
  command -v "$tool" >/dev/null || { echo "bench-cli: $tool not found (scripts/install-deps.sh installs it)" >&2; exit 1; }
done

if [[ -z "$TOOLJAIL" ]]; then
  BUILD="$ROOT/build-bench"
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTOOLJAIL_BENCH=ON >/dev/null
  ninja -C "$BUILD" tooljail >&2
  TOOLJAIL="$BUILD/tooljail"
fi

echo "bench-cli: Linux $(uname -r), $(nproc) CPUs, /sys/fs/cgroup is $(stat -f -c %T /sys/fs/cgroup)," \
  "/var/tmp is $(stat -f -c %T /var/tmp), tooljail $("$TOOLJAIL" --version 2>/dev/null | head -1)"
exec python3 "$ROOT/bench/cli_ab.py" --tooljail "$TOOLJAIL" --policy-dir "$ROOT/policies" \
  ${ARGS[@]+"${ARGS[@]}"}
