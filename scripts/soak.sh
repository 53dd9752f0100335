#!/usr/bin/env bash
# Soak: node_registration.so heartbeating every 1 ms against orchd-dev for
# HEARTBEATS heartbeats (default 100000; CI runs 10000), with a fault every
# 1,000 (restart, 500, a 2 s server delay past the request timeout, a dropped
# connection, 401 + token rotation). Two runs of tests/soak.c:
#   1. the plain build (build/): RSS, descriptors and threads must not grow,
#      the node must end registered; these are the figures to quote;
#   2. the ASan build (build-asan) under LeakSanitizer: zero leaked bytes
#      (ASan keeps freed memory in quarantine, so RSS gets a looser bound).
#
#   scripts/soak.sh [HEARTBEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
case "$n" in '' | *[!0-9]*) echo "usage: scripts/soak.sh [HEARTBEATS]" >&2; exit 2 ;; esac
jobs="$(nproc)"

echo "== soak, plain build (build/): $n heartbeats"
scripts/build.sh
cmake --build build -j"$jobs" --target soak >/dev/null
t0=$SECONDS
build/tests/soak "$n"
echo "   ($((SECONDS - t0)) s)"

echo "== soak under ASan + LeakSanitizer (build-asan): $n heartbeats"
cmake -S . -B build-asan -DPMD_SANITIZE=address,undefined -DPMD_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs" --target soak >/dev/null
t0=$SECONDS
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:quarantine_size_mb=16:exitcode=23" \
LSAN_OPTIONS="exitcode=23" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
SOAK_RSS_SLACK_KB=65536 \
    build-asan/tests/soak "$n"
echo "   ($((SECONDS - t0)) s, no leaks)"
