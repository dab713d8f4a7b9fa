#!/usr/bin/env bash
# Installs the Debian packages tooljail needs. Idempotent; skips apt-get entirely when everything
# is already present.
#   scripts/install-deps.sh build   only what building the `tooljail` binary needs (README's main
#                                   command, scripts/run.sh)
#   scripts/install-deps.sh [all]   that, and what the tests, benchmarks, fuzzers and the Kubernetes
#                                   check need (scripts/test.sh)
set -euo pipefail

BUILD=(
  g++ cmake ninja-build pkg-config           # toolchain
  libseccomp-dev libcap-dev                  # seccomp filters, capability sets
  nlohmann-json3-dev libfmt-dev libcli11-dev # config/protocol JSON, logging, command line
  libvalijson-dev                            # JSON Schema validation of tool arguments (header-only)
  libcpp-httplib-dev                         # serve --http: MCP Streamable HTTP server (SSE streaming)
  libssl-dev                                 # OpenSSL libcrypto: sha256 of run output and record entries
  libsystemd-dev                             # sd-bus: a delegated systemd scope on cgroup v2 hosts
)
TEST=(
  git                                        # the git tools' tests, scripts/format's file list
  catch2                                     # tests (v2, catch2/catch.hpp)
  json-schema-test-suite                     # official JSON Schema cases the unit tests run
  libbenchmark-dev bubblewrap                # bench/: Google Benchmark, the bwrap baseline
  clang libclang-rt-14-dev                   # fuzz/: libFuzzer comes with clang (scripts/fuzz)
  clang-format                               # scripts/format: the house style, checked in CI
  python3                                    # tests run interpreters inside the sandbox; scripts/check-includes
  nginx                                      # the scale-out test: instances behind a real load balancer
  groff-base                                 # the man page test renders docs/tooljail.1
)

case "${1:-all}" in
  build) PACKAGES=("${BUILD[@]}") ;;
  all) PACKAGES=("${BUILD[@]}" "${TEST[@]}") ;;
  *) echo "usage: scripts/install-deps.sh [build|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The MCP SDK tests need Node.js >= 18 and npm. Use one already on PATH; else Debian's.
if [[ "${1:-all}" == all ]] && { ! command -v node >/dev/null || ! command -v npm >/dev/null; }; then
  missing+=(nodejs npm)
fi
if ((${#missing[@]})); then
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  echo "install-deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
