#!/usr/bin/env bash
# Style check (issue 16): every tracked C source and header is as
# clang-format (the .clang-format at the root, Debian 12's clang-format 14)
# writes it. Fails naming each file and line that differs; fix with
#   git ls-files '*.c' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h')
if ! out=$(printf '%s\n' $files | xargs clang-format --dry-run --Werror 2>&1); then
    printf '%s\n' "$out" | grep -E '^[^ ].*: (error|warning):' | head -50 >&2
    echo "format_check: $(printf '%s\n' "$out" | grep -c 'error:') places differ from clang-format" >&2
    exit 1
fi
echo "format_check: $(printf '%s\n' $files | wc -l) files as clang-format writes them"
