#!/usr/bin/env bash
# Soak: NODES instances of node_registration.so (default 25, distinct node
# ids, one process, one loaded plugin) heartbeating every 100 ms (the
# config's floor for heartbeat_interval_ms; the plugin will not pace faster)
# against one orchd-dev, until HEARTBEATS heartbeats summed over all nodes
# (default 100000; CI runs 10000: about 40 s at 25 nodes), with a fault every
# 1,000 of them (restart, 500, a 2 s server delay past the request timeout, a
# dropped connection, 401 + token rotation of the token file all nodes
# share). Two runs of tests/soak.c:
#   1. the plain build (build/): RSS, descriptors (every descriptor table of
#      the process: each node's network thread has its own) and threads must
#      not grow, every node must end registered; these are the figures to
#      quote;
#   2. the ASan build (build-asan) under LeakSanitizer: zero leaked bytes
#      (ASan keeps freed memory in quarantine, so RSS gets a looser bound).
#
#   scripts/soak.sh [HEARTBEATS [NODES]]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-100000}"
k="${2:-25}"
for v in "$n" "$k"; do
    case "$v" in '' | *[!0-9]*) echo "usage: scripts/soak.sh [HEARTBEATS [NODES]]" >&2; exit 2 ;; esac
done
jobs="$(nproc)"

echo "== soak, plain build (build/): $n heartbeats over $k nodes"
scripts/build.sh
cmake --build build -j"$jobs" --target soak >/dev/null
t0=$SECONDS
build/tests/soak "$n" "$k"
echo "   ($((SECONDS - t0)) s)"

echo "== soak under ASan + LeakSanitizer (build-asan): $n heartbeats over $k nodes"
cmake -S . -B build-asan -DPMD_SANITIZE=address,undefined -DPMD_WERROR=ON >/dev/null
cmake --build build-asan -j"$jobs" --target soak >/dev/null
t0=$SECONDS
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:quarantine_size_mb=16:exitcode=23" \
LSAN_OPTIONS="exitcode=23" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
SOAK_RSS_SLACK_KB=65536 \
    build-asan/tests/soak "$n" "$k"
echo "   ($((SECONDS - t0)) s, no leaks)"
