#!/bin/sh
# fleet_test.sh ORCHD_DEV PMD_FLEET PLUGIN CONFIG - runs a small fleet
# against a private orchd-dev on a free loopback port and checks that every
# running node registered and that the fleet's traffic is spread (pmd-fleet's
# --check-registered and --check-spread set the exit status).
# Environment: FLEET_NODES (100), FLEET_RUN_FOR (8), FLEET_MAX_SPREAD (5: the
# issue's own bound; quiet runs give 1.4-1.8x, a loaded 2-core machine up to
# 3.4x, and nodes in step 15x, so 5 still tells the two apart);
# FLEET_NOFILE: run pmd-fleet under that descriptor limit; FLEET_EXPECT,
# FLEET_EXPECT_2 .. _4: extended regexes that some line of its output must
# match.
set -eu
orchd=$1 fleet=$2 plugin=$3 config=$4
dir=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
"$orchd" --bind 127.0.0.1 --port 0 --port-file "$dir/port" --quiet 2>"$dir/orchd.log" &
pid=$!
for _ in $(seq 50); do [ -s "$dir/port" ] && break; sleep 0.1; done
[ -s "$dir/port" ] || { echo "orchd-dev did not start"; cat "$dir/orchd.log"; exit 1; }
rc=0
(
    [ -z "${FLEET_NOFILE:-}" ] || ulimit -n "$FLEET_NOFILE"
    exec "$fleet" --plugin "$plugin" --config "$config" --url "http://127.0.0.1:$(cat "$dir/port")" \
        --nodes "${FLEET_NODES:-100}" --run-for "${FLEET_RUN_FOR:-8}" --boot together \
        --report-every 2 --check-registered --check-spread "${FLEET_MAX_SPREAD:-5}"
) >"$dir/out" 2>&1 || rc=$?
cat "$dir/out"
[ "$rc" -eq 0 ] || exit "$rc"
for re in "${FLEET_EXPECT:-}" "${FLEET_EXPECT_2:-}" "${FLEET_EXPECT_3:-}" "${FLEET_EXPECT_4:-}"; do
    if [ -n "$re" ] && ! grep -Eq "$re" "$dir/out"; then
        echo "no line of the output matches: $re"
        exit 1
    fi
done
