#!/usr/bin/env bash
# README's test command: installs dependencies, checks the format and the include graph, builds
# with -Werror, runs every test (unit and integration, which launch real sandboxes), runs the
# cgroup v2 suite in a QEMU guest, then builds the unit tests with ASan+UBSan and runs them
# again, then a short fuzzing pass (clang, libFuzzer).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/install-deps.sh" all

# The cheap checks first: the house format and the one-way include graph of the wings.
"$ROOT/scripts/format"
"$ROOT/scripts/check-includes"

# The official MCP SDK client (tests/mcp), the conformance suite with its Node 22
# (tests/conformance) and the round-trip benchmark's packages (bench/mcp), pinned by their
# package-lock.json files.
(cd "$ROOT/tests/mcp" && npm ci --no-audit --no-fund --loglevel=error)
(cd "$ROOT/tests/conformance" && npm ci --no-audit --no-fund --loglevel=error)
# The MCP round-trip benchmark's client and baseline server (a ctest smoke test runs it).
(cd "$ROOT/bench/mcp" && npm ci --no-audit --no-fund --loglevel=error)
# The Kubernetes files' linter (deploy/k8s/lint: kubernetes-models' bundled API schemas).
(cd "$ROOT/deploy/k8s/lint" && npm ci --no-audit --no-fund --loglevel=error)

# The tests and benchmarks back on, in case scripts/run.sh configured build/ without them.
"$ROOT/scripts/build.sh" "$ROOT/build" -DTOOLJAIL_TESTS=ON -DTOOLJAIL_BENCH=ON
(cd "$ROOT/build" && ctest --output-on-failure -j2 --timeout 300)

# The same containment, limits, pool and CLI cases on a pure cgroup v2 kernel (a QEMU guest,
# docs/GUEST.md), as root and as a user under a real systemd user manager. Skipped only where
# QEMU cannot run at all.
guest_rc=0
"$ROOT/scripts/guest/suite" "$ROOT/build" || guest_rc=$?
if ((guest_rc == 77)); then
  echo "test.sh: the cgroup v2 guest suite was skipped (see the reason above)" >&2
elif ((guest_rc != 0)); then
  exit "$guest_rc"
fi

"$ROOT/scripts/build.sh" "$ROOT/build-asan" -DTOOLJAIL_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
(cd "$ROOT/build-asan" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure -j2 -L unit --timeout 300)

# A short fuzzing pass: every fuzz target replays its regression inputs and seeds, then fuzzes
# for 30 s (docs/FUZZING.md).
"$ROOT/scripts/fuzz" 30
