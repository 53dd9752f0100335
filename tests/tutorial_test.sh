#!/usr/bin/env bash
# ctest tutorial: docs/tutorial.md is true. Its code blocks carry the README
# Install section's markers (tests/md_blocks.awk): the "walkthrough" ones run
# here in order, as one script, in a scratch directory, with PMD_PREFIX set
# to this tree installed into a temporary prefix (cmake --install) and
# SINK_PORT to a free port; then what they printed is checked against what
# the tutorial says they print.
#
#   tests/tutorial_test.sh BUILD_DIR SOURCE_DIR
# Exit 77 (skipped) when a tool the tutorial uses is missing.
set -euo pipefail
build=$(cd "$1" && pwd)
source_dir=$(cd "$2" && pwd)
doc=$source_dir/docs/tutorial.md

for tool in cmake cc pkg-config python3 timeout; do
  command -v "$tool" >/dev/null || { echo "tutorial: $tool not installed"; exit 77; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "tutorial: FAIL: $*"; exit 1; }

# The README sends plugin authors here.
grep -q '](docs/tutorial.md)' "$source_dir/README.md" || fail "README.md does not link docs/tutorial.md"

# --- the blocks ------------------------------------------------------------------------
awk -v section= -v script="$work/tutorial.sh" -v name="tutorial: docs/tutorial.md" \
    -f "$source_dir/tests/md_blocks.awk" "$doc" || fail "a code block lacks its marker, or none is run"

# --- the kit it runs against -------------------------------------------------------------
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "cmake --install"; }
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# --- run it --------------------------------------------------------------------------------
mkdir "$work/run"
rc=0
(cd "$work/run" && PMD_PREFIX="$prefix" SINK_PORT="$port" PKG_CONFIG_PATH= \
   timeout -k 5 110 bash -euo pipefail "$work/tutorial.sh") >"$work/out.txt" 2>"$work/err.txt" || rc=$?
if [ "$rc" != 0 ]; then
  echo "--- tutorial:"; cat -n "$work/tutorial.sh"
  echo "--- stdout:"; cat "$work/out.txt"
  echo "--- stderr:"; cat "$work/err.txt"
  fail "the tutorial's commands exited $rc"
fi
show() { echo "--- stdout:"; cat "$work/out.txt"; echo "--- stderr:"; cat "$work/err.txt"; }

# --- what it says they print ---------------------------------------------------------------
version=$(sed -n 's/^project(pmd VERSION \([0-9.]*\) .*/\1/p' "$source_dir/CMakeLists.txt")
grep -qx "$version" "$work/out.txt" || { show; fail "pkg-config --modversion did not print $version"; }
grep -qx "http" "$work/out.txt" && grep -qx "minimal" "$work/out.txt" || { show; fail "ls did not list the templates"; }
# The five-line CMakeLists.txt shown is what cat printed.
awk '/^```cmake$/ {on = 1; next} on && /^```/ {exit} on' "$doc" >"$work/shown.cmake"
[ "$(wc -l <"$work/shown.cmake")" = 5 ] || fail "the CMakeLists.txt shown is not five lines"
grep -qxFf "$work/shown.cmake" "$work/out.txt" &&
  [ "$(grep -cxFf "$work/shown.cmake" "$work/out.txt")" = 5 ] || { show; fail "cat did not print the CMakeLists.txt shown"; }
for t in abi_check_my_plugin abi_check_http_post; do
  grep -qE "Test +#1: $t \.+ +Passed" "$work/out.txt" || { show; fail "ctest did not pass $t"; }
done
# The checker's lines shown (up to the first "...").
awk '/^```text$/ {on = 1; next} on && /^```/ {exit} on && /^PASS/' "$doc" | sed 's/ \.\.\.$//' >"$work/shown.pass"
[ -s "$work/shown.pass" ] || fail "no PASS lines shown"
while IFS= read -r line; do
  grep -qF "$line" "$work/out.txt" || { show; fail "the checker did not print: $line"; }
done <"$work/shown.pass"
grep -q '^4 passed, 0 failed, 0 skipped$' "$work/out.txt" || { show; fail "no '4 passed' summary"; }
for pattern in 'plugin=my_plugin example: started' 'plugin=my_plugin example: tick 10,' \
               'event=state_changed state=stopped' 'plugin=http_post http_post: started' \
               'plugin=http_post http_post: seq=1: posted'; do
  grep -q "$pattern" "$work/err.txt" || { show; fail "the shim's log lacks: $pattern"; }
done
grep -qx 'received /events seq=1' "$work/out.txt" || { show; fail "the endpoint did not print 'received /events seq=1'"; }
[ -f "$work/run/my-plugin/my_plugin.so" ] || fail "the pkg-config build made no my_plugin.so"
echo "tutorial: every command of docs/tutorial.md ran; the checker passed both plugins and the shim ran them"
echo "tutorial: OK"
