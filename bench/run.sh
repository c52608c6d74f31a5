#!/usr/bin/env bash
# Runs every benchmark against the build and writes the report.
#   bash bench/run.sh [BUILD_DIR] [--quick] [--only micro,coldstart,http,search,mqtt,memory]
# make bench        -> bench/RESULTS.md            (full run, ~10 min)
# make bench-quick  -> BUILD_DIR/bench/RESULTS-quick.md (smoke test, < 2 min)
# Exit status: 0 when every scenario ran without errors.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

build=build
if [[ $# -gt 0 && $1 != --* ]]; then build=$1; shift; fi
case $build in /*) ;; *) build=$repo/$build ;; esac

for tool in wrk node npm openssl mosquitto_passwd; do
  command -v "$tool" >/dev/null || { echo "bench: '$tool' is missing (run make setup)" >&2; exit 2; }
done
[[ -x /usr/sbin/mosquitto ]] || { echo "bench: /usr/sbin/mosquitto is missing (run make setup)" >&2; exit 2; }

# The benchmark binaries (built by `make build` too; this is a no-op then).
if ! cmake --build "$build" --target para-server para_mqtt_bench para_micro_bench -j"${JOBS:-2}" >"$build/bench-build.log" 2>&1; then
  tail -30 "$build/bench-build.log" >&2
  echo "bench: building the benchmarks in $build failed (configured with PARA_BUILD_BENCH=ON?)" >&2
  exit 2
fi

# Node packages: the integration tests' pinned set (aws4, mqtt); no others.
if [[ ! -d tests/integration/node_modules/aws4 || ! -d tests/integration/node_modules/mqtt ]]; then
  (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)
fi

# 10k device connections need as many descriptors in Node and in Mosquitto
# (which inherits para-server's, which inherits ours).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

tmp=$(mktemp -d "${TMPDIR:-/tmp}/para-bench.XXXXXX")
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

export NODE_PATH="$repo/tests/integration/node_modules"
export PARA_SERVER="${PARA_SERVER:-$build/para-server}"
export PARA_BENCH_TMP="$tmp"
# The report names the commit of the sources the build was configured from.
src_dir=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
node --max-old-space-size=6144 bench/bench.js --build "$build" --source "${src_dir:-$repo}" "$@"
