#!/usr/bin/env bash
# cppcheck at warning level (errors and warnings; no style) over every C
# source the build compiles: plugin/, host-shim/, tools/, bench/, tests/ and
# their headers, each with the flags and defines of its compile command
# (the abi-check broken plugins once per broken variant). Files generated in
# the build tree are skipped. Fails on any finding.
#
#   scripts/cppcheck.sh [BUILD_DIR]    (default build/, after scripts/build.sh)
#
# A finding that is a false positive, or deliberate, is suppressed where it
# is, with "cppcheck-suppress <id>" and the reason in a comment on the line
# above; in a file under someone else's change, in
# scripts/cppcheck-suppressions.txt with a reason per entry.
# scripts/cppcheck.cfg spells out the Criterion and json-c macros.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD
build=$(cd "${1:-build}" && pwd)
db=$build/compile_commands.json
[ -f "$db" ] || {
  echo "cppcheck.sh: $db missing: run scripts/build.sh first" >&2
  exit 2
}
command -v cppcheck >/dev/null || {
  echo "cppcheck.sh: cppcheck not installed (scripts/deps.sh installs it)" >&2
  exit 2
}

work=$build/cppcheck
mkdir -p "$work/cache"
jq --arg src "$src/" --arg build "$build/" \
  '[.[] | select((.file | startswith($src)) and (.file | startswith($build) | not))]' \
  "$db" >"$work/compile_commands.json"

# --cppcheck-build-dir keeps results between runs and enables the
# whole-program (ctu) checks that -j otherwise turns off. Any output fails:
# cppcheck 2.10 exits 0 on ctu findings even with --error-exitcode, and
# inline suppressions do not reach them (fix the code, or use the file).
rc=0
cppcheck --project="$work/compile_commands.json" \
  --enable=warning --inline-suppr \
  --library="$src/scripts/cppcheck.cfg" \
  --suppressions-list="$src/scripts/cppcheck-suppressions.txt" \
  --cppcheck-build-dir="$work/cache" -j"$(nproc)" --quiet \
  --error-exitcode=1 \
  --template='{file}:{line}: {severity} [{id}] {message}' \
  >"$work/findings.txt" 2>&1 || rc=$?
if [ "$rc" != 0 ] || [ -s "$work/findings.txt" ]; then
  echo "cppcheck: findings (fix them, or suppress with a reason: see the top of scripts/cppcheck.sh):" >&2
  sed "s|^$src/||" "$work/findings.txt" >&2
  [ -s "$work/findings.txt" ] || echo "cppcheck exited $rc" >&2
  exit 1
fi
echo "cppcheck: no findings in $(jq length "$work/compile_commands.json") compile commands"
