#!/usr/bin/env bash
# bench/run.sh - build and run pmd-bench end to end; prints one table.
#
#   bench/run.sh            sections 1-5 and 7 (about 2.5 minutes on 2 cores)
#   bench/run.sh --timing   section 6 only: drift and jitter over 5 minutes
#   bench/run.sh ARGS...    anything else is passed to pmd-bench (see pmd_bench.c)
#
# Builds only what the benchmark needs (pmd-bench, pmd-bench-lean,
# node_registration.so, example.so, orchd-dev) in build-bench/, RelWithDebInfo
# with warnings as errors. Needs valgrind for the instructions-per-heartbeat
# row. Outputs (callgrind profile, sampled request logs) go to
# build-bench/bench-out/ (table.md, table-timing.md, callgrind-top.txt, ...).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${PMD_BENCH_BUILD:-$root/build-bench}
out=$build/bench-out
start=$(date +%s)

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPMD_WERROR=ON >/dev/null
cmake --build "$build" --target pmd-bench -j"$(nproc)" >/dev/null
mkdir -p "$out"
rm -f "$out/callgrind-steady.path"
table=table.md
case " $* " in *" --timing "*) table=table-timing.md ;; esac

commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=""
if ! git -C "$root" diff --quiet HEAD -- plugin include 2>/dev/null; then
  dirty=" + uncommitted changes in plugin/ or include/"
fi

"$build/bench/pmd-bench" --out "$out" --label "at $commit$dirty" "$@" 2>"$out/progress.log" |
  tee "$out/$table"

if [ -f "$out/callgrind-steady.path" ] && command -v callgrind_annotate >/dev/null; then
  profile=$(cat "$out/callgrind-steady.path")
  { callgrind_annotate --inclusive=yes --threshold=100 "$profile" | head -80
    callgrind_annotate --inclusive=no --threshold=100 "$profile" | head -60; } \
    >"$out/callgrind-top.txt" 2>/dev/null || true
  echo
  echo "callgrind profile (inclusive and self, per function): $out/callgrind-top.txt"
fi
echo "run.sh: $(($(date +%s) - start)) s in all (build included); progress: $out/progress.log"
