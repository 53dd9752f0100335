#!/usr/bin/env bash
# The README's test command: installs what is missing, builds with warnings
# as errors, checks the format (scripts/format_check.sh) and runs cppcheck
# (scripts/cppcheck.sh) and every ctest suite, then
# the hardening runs CI requires: ASan+UBSan and TSan, pmd-abi-check under
# valgrind, 30 s of each fuzzer, and a 10,000-heartbeat soak with faults.
#
#   scripts/test.sh           everything (what CI runs)
#   scripts/test.sh --quick   build, format check, cppcheck and ctest only
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1
t0=$SECONDS
scripts/deps.sh
scripts/build.sh
scripts/format_check.sh
scripts/cppcheck.sh build
ctest --test-dir build --output-on-failure --timeout 300 -j2
if [ "$quick" = 1 ]; then
  exit 0
fi
scripts/sanitize.sh
scripts/fuzz.sh 30
scripts/soak.sh 10000
echo "== all tests and hardening runs passed in $((SECONDS - t0)) s"
