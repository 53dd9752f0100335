#!/bin/sh
# doc_valgrind.sh SPEC CHECKER PLUGIN... - runs the valgrind command that
# plugin.abi.md section 13 ("Verify a build with:") shows, exactly as
# written, on each PLUGIN: only the placeholder PLUGIN.so is replaced by the
# plugin's path, and pmd-abi-check is found on PATH (CHECKER's directory
# first). Passes when the command exits 0 for every plugin and the checker
# said it noticed valgrind (so the timing checks were skipped by detection,
# not by an option the document does not show).
set -u
spec=$1 checker=$2
shift 2
fail() { echo "FAIL: $*"; exit 1; }

# The first code block of section 13, continuation lines joined.
block=$(awk '/^## 13\./ { s = 1; next } s && /^## / { exit }
             s && /^```/ { if (inb) exit; inb = 1; next }
             inb { print }' "$spec" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta')
cmd=$(printf '%s\n' "$block" | grep '^valgrind ' | head -n 1)
[ -n "$cmd" ] || fail "no valgrind command in section 13 of $spec"
case $cmd in *PLUGIN.so*) ;; *) fail "the command names no PLUGIN.so: $cmd" ;; esac
echo "section 13: $cmd"

PATH=$(dirname "$checker"):$PATH
export PATH
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
for plugin in "$@"; do
  run=$(printf '%s\n' "$cmd" | sed "s|PLUGIN\.so|$plugin|g")
  start=$(date +%s)
  sh -c "$run" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  took=$(( $(date +%s) - start ))
  grep -E '^(PASS|FAIL|SKIP)  |passed, ' "$tmp/out"
  if [ "$rc" -ne 0 ]; then
    grep -v '^==' "$tmp/err" | tail -n 20
    grep -E '^==[0-9]+== (Invalid|.*definitely lost: [1-9]|.*indirectly lost: [1-9])' "$tmp/err" | head -n 20
    fail "$(basename "$plugin"): exit status $rc after ${took} s"
  fi
  grep -q 'running under valgrind' "$tmp/err" ||
    fail "$(basename "$plugin"): the checker did not notice valgrind"
  echo "ok: $(basename "$plugin"): exit 0 under valgrind in ${took} s"
done
