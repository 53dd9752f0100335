#!/usr/bin/env bash
# ctest install_walkthrough: the README's Install section is true.
#
# Every code block of that section carries a marker comment on the line
# before it (tests/md_blocks.awk, shared with tutorial_test.sh):
#   <!-- test: walkthrough -->              run here, in order, as one script
#   <!-- test: not run (REASON) -->         not run; the reason is required
# A block without a marker fails the test. The walkthrough blocks run in a
# temporary directory with PMD_PREFIX pointing at the Debian package built
# from this tree and unpacked (dpkg-deb -x, nothing installed on the system)
# and ORCHD_DEV at this tree's orchd-dev; then what they printed is checked.
#
#   tests/install_walkthrough_test.sh BUILD_DIR ORCHD_DEV SOURCE_DIR
# Exit 77 (ctest: skipped) when a tool the walkthrough needs is missing.
set -euo pipefail
build=$(cd "$1" && pwd)
orchd=$2
source_dir=$(cd "$3" && pwd)
readme=$source_dir/README.md

for tool in dpkg-deb dpkg-shlibdeps cpack openssl curl jq timeout; do
  command -v "$tool" >/dev/null || { echo "install_walkthrough: $tool not installed (scripts/deps.sh installs it)"; exit 77; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "install_walkthrough: FAIL: $*"; exit 1; }

# --- the blocks -------------------------------------------------------------
awk -v section=Install -v script="$work/walkthrough.sh" -v name="install_walkthrough: Install" \
    -f "$source_dir/tests/md_blocks.awk" "$readme" || fail "the Install section's code blocks are not all marked, or none is run"

# --- the files it runs: the package, unpacked ---------------------------------------
source "$source_dir/tests/deb_unpack.sh"
pmd_deb_unpack "$build" "$work" || fail "could not build and unpack the package"

# --- run it -------------------------------------------------------------------
mkdir "$work/run"
rc=0
(cd "$work/run" && PMD_PREFIX="$PMD_DEB_ROOT/usr" ORCHD_DEV="$orchd" \
   timeout -k 5 45 bash -euo pipefail "$work/walkthrough.sh") >"$work/out.txt" 2>"$work/err.txt" || rc=$?
if [ "$rc" != 0 ]; then
  echo "--- walkthrough:"; cat -n "$work/walkthrough.sh"
  echo "--- stdout:"; cat "$work/out.txt"
  echo "--- stderr:"; cat "$work/err.txt"
  fail "the walkthrough exited $rc"
fi
grep -qx 'gpu-node-1 Online' "$work/out.txt" || { cat "$work/out.txt" "$work/err.txt"; fail "curl did not print 'gpu-node-1 Online'"; }
for event in 'event=registered' 'event=deregistered'; do
  grep -q "$event" "$work/err.txt" || { cat "$work/err.txt"; fail "the node's log lacks $event"; }
done
if grep -q 'tls_insecure\| ERROR ' "$work/err.txt"; then
  cat "$work/err.txt"; fail "the node logged an error or ran without TLS verification"
fi
echo "install_walkthrough: the README's first run registered over mTLS with a token and deregistered"
echo "install_walkthrough: OK"
