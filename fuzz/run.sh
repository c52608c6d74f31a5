#!/usr/bin/env bash
# Runs every fuzz target for a bounded time, starting from the seed corpus
# kept in the repository. Fails on the first crash (the reproducer is left
# in the working directory as crash-*).
set -euo pipefail
build=${1:-build-fuzz}
seconds=${2:-60}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in json query shadow sigv4 http; do
  mkdir -p "$work/$target"
  echo "fuzz_$target: ${seconds}s"
  log="$work/$target.log"
  if ! "$build/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 "$work/$target" "$here/corpus/$target" >"$log" 2>&1; then
    grep -v '^#' "$log" | tail -n 60
    echo "fuzz_$target FAILED (reproducer: crash-* / timeout-* in $(pwd))"
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added)' "$log" || true
done
