#!/usr/bin/env bash
# plugin.abi.md section 14 ("A minimal host in C") is code a host author
# copies: compile it exactly as the section says (the header from the source
# tree stands in for pkg-config's -I) and run it on example.so as shown.
#   doc_min_host_test.sh SOURCE_DIR EXAMPLE_SO
set -euo pipefail
src="$1" example="$2"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
awk '/^## 14\. A minimal host in C/ {in14 = 1; next}
     /^## 15\./ {in14 = 0}
     in14 && /^```c$/ {code = 1; next}
     in14 && code && /^```$/ {code = 0; exit}
     in14 && code {print}' "$src/plugin.abi.md" >"$tmp/host.c"
[ -s "$tmp/host.c" ] || { echo "no C block found in section 14" >&2; exit 1; }
cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Werror -I"$src/include" "$tmp/host.c" -o "$tmp/a.out" -ldl
"$tmp/a.out" "$example" '{"log_every_ticks": 10}' 2>"$tmp/err"
grep -q "plugin" "$tmp/err" || { echo "the plugin logged nothing:" >&2; cat "$tmp/err" >&2; exit 1; }
echo "section 14 host: compiled and ran ($(wc -l <"$tmp/err") log lines)"
