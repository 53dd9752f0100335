#!/usr/bin/env bash
# run_readme.sh - ctest rust_host_readme: the `cargo test` command of
# hosts/rust/README.md (the code block after `<!-- test: rust-readme -->`)
# works as written from a repository root whose CMake build is in build/.
# The block runs in a temporary directory that stands in for the repository
# root: `hosts` links to this source tree's hosts/, `build` to BUILD_DIR.
# The PMD_* variables of the caller are removed first, so only the README's
# own (relative) values are used.
#
#   hosts/rust/run_readme.sh SOURCE_DIR BUILD_DIR
# PMD_CARGO (default: cargo on PATH) is put first on PATH.
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
readme=$src/hosts/rust/README.md

block=$(awk '
  /^<!-- test: rust-readme -->$/ { want = 1; next }
  want && /^```/ { if (inblock) exit; inblock = 1; next }
  inblock { print; next }
  NF { want = 0 }' "$readme")
[ -n "$block" ] || { echo "run_readme: FAIL: no block marked <!-- test: rust-readme --> in $readme"; exit 1; }

if [ -n "${PMD_CARGO:-}" ]; then PATH=$(dirname "$PMD_CARGO"):$PATH; fi
unset PMD_ABI_LAYOUT_BIN ORCHD_DEV_BIN PMD_NODE_REGISTRATION_SO PMD_EXAMPLE_SO CARGO_TARGET_DIR
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ln -s "$src/hosts" "$work/hosts"
ln -s "$build" "$work/build"

printf 'run_readme: running in a stand-in repository root:\n%s\n' "$block"
(cd "$work" && bash -euo pipefail -c "$block")
echo "run_readme: ok"
