#!/usr/bin/env bash
# run_example.sh - ctest rust_host_example: the Rust example host
# (examples/shim.rs) runs node_registration.so against orchd-dev for about
# 3 s; the node must be listed Online while it runs and be gone afterwards.
# Needs ORCHD_DEV_BIN and PMD_NODE_REGISTRATION_SO; PMD_CARGO (default cargo) and
# CARGO_TARGET_DIR (default hosts/rust/target) as ctest sets them. Uses curl.
set -euo pipefail
: "${ORCHD_DEV_BIN:?set ORCHD_DEV_BIN to the orchd-dev binary}"
: "${PMD_NODE_REGISTRATION_SO:?set PMD_NODE_REGISTRATION_SO to node_registration.so}"
here=$(cd "$(dirname "$0")" && pwd)
cargo_bin=${PMD_CARGO:-cargo}
target_dir=${CARGO_TARGET_DIR:-$here/target}
unset LLORCH_API_TOKEN # orchd-dev runs with auth off; the plugin sends no token

work=$(mktemp -d)
orchd_pid=""
shim_pid=""
cleanup() {
    if [ -n "$shim_pid" ]; then kill "$shim_pid" 2>/dev/null || true; fi
    if [ -n "$orchd_pid" ]; then kill "$orchd_pid" 2>/dev/null || true; fi
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "run_example: FAIL: $*" >&2
    for f in "$work"/shim.err "$work"/orchd.err; do
        [ -s "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
    done
    exit 1
}

CARGO_TARGET_DIR=$target_dir "$cargo_bin" build --offline --quiet \
    --manifest-path "$here/Cargo.toml" --example shim
shim="$target_dir/debug/examples/shim"

"$ORCHD_DEV_BIN" --port 0 --port-file "$work/port" --quiet 2>"$work/orchd.err" &
orchd_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || fail "orchd-dev wrote no port file"
base="http://127.0.0.1:$(cat "$work/port")"

node_id="rust-shim-example-$$"
printf '{"node_id":"%s","address":"http://127.0.0.1:9200","orchestratord_url":"%s",%s}\n' \
    "$node_id" "$base" '"heartbeat_interval_ms":300,"deregister_timeout_ms":2000' >"$work/node.json"

"$shim" --plugin "$PMD_NODE_REGISTRATION_SO" --config "$work/node.json" \
    --pool pool-0:1:0:3:4:18000000000:llamacpp --pool pool-1:1:0:4:4:70000000000:vllm \
    --tick-ms 50 --run-for 3 2>"$work/shim.err" &
shim_pid=$!

online=0
while kill -0 "$shim_pid" 2>/dev/null; do
    nodes=$(curl -fsS "$base/v2/nodes" || true)
    case "$nodes" in
    *"\"node_id\":\"$node_id\""*'"status":"Online"'*) online=1 ;;
    esac
    sleep 0.2
done
rc=0
wait "$shim_pid" || rc=$?
shim_pid=""
[ "$rc" -eq 0 ] || fail "shim exited with $rc"
[ "$online" -eq 1 ] || fail "node $node_id was never listed Online"
grep -q 'STATE registered' "$work/shim.err" || fail "no 'registered' state change"
grep -q 'STATE stopped' "$work/shim.err" || fail "no 'stopped' state change"
nodes=$(curl -fsS "$base/v2/nodes") || fail "GET /v2/nodes failed"
case "$nodes" in
*"$node_id"*) fail "node $node_id still listed after the shim stopped: $nodes" ;;
esac
echo "run_example: ok: $node_id registered, heartbeated, deregistered"
grep 'shim: stats' "$work/shim.err" || true
