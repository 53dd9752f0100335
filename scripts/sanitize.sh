#!/usr/bin/env bash
# Sanitizer and valgrind runs (CI runs this after scripts/test.sh):
#   1. build-asan: -DPMD_SANITIZE=address,undefined, the whole ctest suite
#      (but the valgrind test, which cannot run under ASan, and the Rust host
#      tests, whose uninstrumented binary cannot load an ASan-built plugin),
#      leaks included;
#   2. build-tsan: -DPMD_SANITIZE=thread, tests/tsan_stress (Criterion cannot
#      start under TSan): instances on several host threads through faults,
#      stop cycles and stats reads racing the network threads;
#   3. build/ (scripts/build.sh): pmd-abi-check under valgrind (memcheck,
#      children traced) on the shipped plugins, example and node_registration.
# Any sanitizer report, failed test or valgrind finding fails the script.
#
#   scripts/sanitize.sh [TSAN_SECONDS]     (default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
tsan_secs="${1:-20}"
jobs="$(nproc)"
t_start=$SECONDS
step() { printf '\n== %s (%ds so far)\n' "$1" $((SECONDS - t_start)); }

step "ASan + UBSan build (build-asan)"
cmake -S . -B build-asan -DPMD_SANITIZE=address,undefined -DPMD_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs" >/dev/null
step "ctest under ASan + UBSan + LeakSanitizer"
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" --timeout 300 -E 'valgrind|rust_host'

step "TSan build (build-tsan)"
cmake -S . -B build-tsan -DPMD_SANITIZE=thread -DPMD_WERROR=ON >/dev/null
cmake --build build-tsan -j"$jobs" --target tsan_stress >/dev/null
step "tsan_stress for ${tsan_secs}s"
# Kernels with 32+ bits of mmap randomisation break this TSan's memory map:
# run without address-space randomisation where setarch can do that.
norandom=()
if setarch "$(uname -m)" -R true 2>/dev/null; then
    norandom=(setarch "$(uname -m)" -R)
fi
TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1" \
    "${norandom[@]}" build-tsan/tests/tsan_stress "$tsan_secs"

step "pmd-abi-check under valgrind (build/)"
scripts/build.sh
for plugin in build/plugin/example/example.so build/plugin/node_registration/node_registration.so; do
    echo "valgrind: pmd-abi-check --valgrind-safe $plugin"
    log="build/valgrind-$(basename "$plugin" .so).log"
    if ! valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        --trace-children=yes --log-file="$log.%p" \
        build/tools/abi-check/pmd-abi-check --valgrind-safe "$plugin" >"$log" 2>&1; then
        echo "valgrind: FAILED on $plugin; see $log*" >&2
        tail -n 30 "$log" "$log".* >&2 || true
        exit 1
    fi
    grep -h "ERROR SUMMARY" "$log".* | sort | uniq -c | sed 's/^/    /'
    rm -f "$log".*
done
step "sanitize.sh: all clean"
