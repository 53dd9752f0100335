#!/usr/bin/env bash
# Builds the Debian package build/pmd-node_<version>_<arch>.deb from the
# tree in build/ (configured and built as scripts/build.sh does), then runs
# lintian on it: an error fails the script, warnings are shown.
#
#   scripts/package.sh [CMAKE_ARGS...]
#     e.g. -DPMD_MAINTAINER="GPU fleet team <fleet@example.com>"
#          -DPMD_DEPLOYMENT_CONFIGS="example-cloud=deploy/example-cloud.json"
#     (cache settings: they stay in build/ for later builds)
#
# What goes in, where it lands, and how the tests check it: deploy/package.cmake.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build -DPMD_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
rm -f build/pmd-node_*.deb
(cd build && cpack -G DEB >cpack.log 2>&1) || { cat build/cpack.log; exit 1; }
deb=$(ls build/pmd-node_*.deb)
rc=0
report=$(lintian --fail-on error "$deb" 2>&1) || rc=$?
grep -v 'running with root privileges' <<<"$report" || true
[ "$rc" = 0 ] || { echo "package: lintian reports errors (exit $rc)"; exit 1; }
echo "package: $deb"
dpkg-deb --field "$deb" Depends
