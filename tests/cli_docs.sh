#!/bin/sh
# cli_docs.sh NAME BINARY [MANPAGE] - one binary's command-line contract:
# -h and --help print the same usage (exit 0) naming every option and the
# exit status; --version prints "NAME X.Y.Z" (exit 0); an unknown option
# exits 2. With MANPAGE: every option the page documents is in --help and
# every option in --help is in the page, the page has the usual sections,
# and groff (or mandoc, when installed) finds nothing to warn about.
set -u
name=$1 bin=$2 man=${3:-}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $name: $*"; exit 1; }

"$bin" --help >"$tmp/help" 2>"$tmp/help.err" || fail "--help exited $?"
head -n 1 "$tmp/help" | grep -q "^usage: $name " || fail "--help does not start with 'usage: $name ': $(head -n 1 "$tmp/help")"
grep -qi 'exit status' "$tmp/help" || fail "--help does not document the exit status"
"$bin" -h >"$tmp/h" 2>/dev/null || fail "-h exited $?"
cmp -s "$tmp/help" "$tmp/h" || fail "-h and --help differ"
"$bin" --version >"$tmp/version" 2>/dev/null || fail "--version exited $?"
grep -Eq "^$name [0-9]+\.[0-9]+\.[0-9]+" "$tmp/version" || fail "--version printed: $(cat "$tmp/version")"
"$bin" --no-such-option >/dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ] || fail "an unknown option exited $rc, not 2"

# Long options as each text names them (roff writes "\-\-name").
grep -Eo -- '--[a-z][a-z0-9-]*' "$tmp/help" | sort -u >"$tmp/help.opts"
grep -c . "$tmp/help.opts" >/dev/null || fail "--help names no option"
if [ -n "$man" ]; then
  [ -r "$man" ] || fail "no man page $man"
  sed 's/\\-/-/g' "$man" | grep -Eo -- '--[a-z][a-z0-9-]*' | sort -u >"$tmp/man.opts"
  missing=$(comm -23 "$tmp/man.opts" "$tmp/help.opts" | tr '\n' ' ')
  [ -z "$missing" ] || fail "in $man but not in --help: $missing"
  missing=$(comm -13 "$tmp/man.opts" "$tmp/help.opts" | tr '\n' ' ')
  [ -z "$missing" ] || fail "in --help but not in $man: $missing"
  for section in NAME SYNOPSIS DESCRIPTION OPTIONS 'EXIT STATUS'; do
    grep -q "^\.SH \"*$section\"*\$" "$man" || fail "$man has no $section section"
  done
  for code in 0 1 2; do
    sed -n '/^\.SH EXIT STATUS/,/^\.SH/p' "$man" | grep -q "^\.B $code\$" ||
      fail "$man's EXIT STATUS does not document $code"
  done
  if command -v groff >/dev/null 2>&1; then
    groff -man -Tutf8 -ww -z "$man" >"$tmp/groff" 2>&1 || fail "groff failed: $(cat "$tmp/groff")"
    [ ! -s "$tmp/groff" ] || fail "groff warns: $(cat "$tmp/groff")"
  fi
  if command -v mandoc >/dev/null 2>&1; then
    mandoc -Tlint -W warning "$man" >"$tmp/mandoc" 2>&1
    [ ! -s "$tmp/mandoc" ] || fail "mandoc warns: $(cat "$tmp/mandoc")"
  fi
fi
echo "ok: $name: $(wc -l <"$tmp/help.opts") options in --help${man:+, the same in $man}"
