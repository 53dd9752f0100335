#!/usr/bin/env bash
# ctest header_standalone: include/pmd_plugin.h compiles on its own as C99,
# C11 and C++11 with -pedantic -Werror -Wall -Wextra -Wpadded (gcc and g++,
# clang and clang++ where installed), and every struct size, field offset
# and size constant is what the header and plugin.abi.md promise
# (tests/header_standalone.c asserts them at compile time).
#
# Also compiled: the layout numbers read from plugin.abi.md itself (section
# 4's struct tables, section 3's size constants), so a table that disagrees
# with the header fails; and, in every mode, one deliberately wrong
# assertion (PMD_HDR_BREAK), which must fail to compile, or the assertions
# prove nothing.
#
#   tests/header_standalone.sh [SOURCE_DIR]
set -euo pipefail
src=${1:-$(cd "$(dirname "$0")/.." && pwd)}
tu=$src/tests/header_standalone.c
spec=$src/plugin.abi.md
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Section 4: "#### `T`: N bytes (1.0: A, 1.1: B)" and rows
# "| off | size | type | `field` | ...". Section 3: "| `PMD_X` | N | ...".
# The "(1.0: A)" sizes are the PMD_<T>_SIZE_1_0 constants; a heading's
# "minimum `PMD_X` N" is a constant too.
awk '
  /^## 3\./ { sec = 3 } /^## 4\./ { sec = 4 } /^## [0-9]/ && !/^## [34]\./ { sec = 0 }
  sec == 4 && /^#### `pmd_[a-z_]+_t`: [0-9]+ bytes/ {
    t = $2; gsub(/[`:]/, "", t); n = $3
    printf "SIZE(%s, %s);\n", t, n; structs++
    m = toupper(t); sub(/^PMD_/, "", m); sub(/_T$/, "", m)
    rest = $0; sub(/^[^(]*/, "", rest)
    while (match(rest, /1\.[0-9]+: [0-9]+/)) {
      v = substr(rest, RSTART, RLENGTH); split(v, p, ": "); gsub(/\./, "_", p[1])
      printf "CONST32(PMD_%s_SIZE_%s, %s);\n", m, p[1], p[2]
      rest = substr(rest, RSTART + RLENGTH)
    }
    if (match($0, /minimum `PMD_[A-Z0-9_]+` [0-9]+/)) {
      split(substr($0, RSTART, RLENGTH), p, " "); gsub(/`/, "", p[2])
      printf "CONST32(%s, %s);\n", p[2], p[3]
    }
    next
  }
  sec == 4 && t != "" && /^\| *[0-9]+ *\| *[0-9]+ *\|/ {
    split($0, c, "|"); f = c[5]; gsub(/[ `]/, "", f)
    off = c[2]; gsub(/ /, "", off); n = c[3]; gsub(/ /, "", n)
    printf "FIELD(%s, %s, %s, %s);\n", t, f, off, n; fields++
  }
  sec == 3 && /^\| `PMD_[A-Z0-9_]+` \| [0-9]+ \|/ {
    split($0, c, "|"); k = c[2]; gsub(/[ `]/, "", k); v = c[3]; gsub(/ /, "", v)
    printf "CONST32(%s, %s);\n", k, v; consts++
  }
  END {
    printf "spec: %d struct tables, %d fields, %d size constants\n", structs, fields, consts > "/dev/stderr"
    if (structs < 10 || fields < 40 || consts < 2) exit 1
  }' "$spec" > "$tmp/spec_layout.h" || {
  echo "header_standalone: could not read the layout tables of $spec" >&2
  exit 1
}

flags=(-pedantic -Werror -Wall -Wextra -Wpadded -I"$src/include" -fsyntax-only)
modes=(gcc:c:c99 gcc:c:c11 g++:c++:c++11)
if command -v clang >/dev/null && command -v clang++ >/dev/null; then
  modes+=(clang:c:c99 clang:c:c11 clang++:c++:c++11)
fi

fail=0
for m in "${modes[@]}"; do
  IFS=: read -r cc lang std <<<"$m"
  what="$cc -std=$std"
  if ! "$cc" -x "$lang" -std="$std" "${flags[@]}" \
         -DPMD_HDR_SPEC_LAYOUT="\"$tmp/spec_layout.h\"" "$tu" 2>"$tmp/err"; then
    echo "FAIL $what: the header or its layout is not what is promised" >&2
    head -n 60 "$tmp/err" >&2
    # C99 names a failed assertion only by its typedef: show its line.
    grep -Eo 'pmd_hdr_assert_(main|spec)_[0-9]+' "$tmp/err" | sort -u |
      while IFS=_ read -r _ _ _ file line; do
        if [ "$file" = spec ]; then f=$tmp/spec_layout.h; n="plugin.abi.md says"; else f=$tu; n=$tu:$line; fi
        echo "  $n: $(sed -n "${line}p" "$f")" >&2
      done
    fail=1
    continue
  fi
  # The wrong offset must fail, and for that reason (its typedef in C99,
  # its message in C11 and C++11), not some other error.
  if "$cc" -x "$lang" -std="$std" "${flags[@]}" -DPMD_HDR_BREAK "$tu" 2>"$tmp/err" ||
     ! grep -Eq 'pmd_hdr_assert_break_|offsetof\(pmd_host_t, struct_size\) == 4' "$tmp/err"; then
    echo "FAIL $what: a deliberately wrong offset did not fail its assertion" >&2
    head -n 20 "$tmp/err" >&2
    fail=1
    continue
  fi
  echo "ok   $what"
done
exit "$fail"
