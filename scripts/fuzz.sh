#!/usr/bin/env bash
# Fuzzes node_registration's parsers and state machine with libFuzzer:
# configures a clang build in build-fuzz (-DPMD_FUZZ=ON), builds the three
# targets of tests/fuzz/, and runs each for SECONDS (default 30) on a copy
# of its committed seed corpus (tests/fuzz/corpus/<target>/ never grows).
# Fails on any crash, leak, sanitizer report or timeout; the input that
# caused it is kept in build-fuzz/findings/<target>/ (add it to
# tests/fuzz/regressions/<target>/ to make it a regression test).
#
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-30}"
case "$secs" in '' | *[!0-9]*) echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2 ;; esac
command -v clang >/dev/null || { echo "fuzz.sh: clang is required (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }

build=build-fuzz
CC=clang cmake -S . -B "$build" -DPMD_FUZZ=ON -DPMD_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target fuzz_config fuzz_response fuzz_records >/dev/null

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
status=0
for target in config response records; do
    work="$build/fuzz-work/$target"
    findings="$build/findings/$target"
    rm -rf "$work"
    mkdir -p "$work" "$findings"
    cp tests/fuzz/corpus/"$target"/* "$work"/
    log="$build/fuzz-$target.log"
    echo "fuzz_$target: ${secs}s on $(ls "$work" | wc -l) seeds"
    if "$build/tests/fuzz/fuzz_$target" "$work" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=8192 -print_final_stats=1 -artifact_prefix="$findings/" >"$log" 2>&1; then
        grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' "$log" |
            sed 's/^/    /' || true
    else
        status=1
        echo "fuzz_$target: FAILED (input kept in $findings/); the end of $log:" >&2
        tail -n 40 "$log" >&2
    fi
done
exit "$status"
