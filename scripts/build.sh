#!/usr/bin/env bash
# Configures and builds into build/ (warnings are errors). Used by the demo
# and the test command; run scripts/deps.sh first on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DPMD_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
