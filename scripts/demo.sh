#!/usr/bin/env bash
# The README's main job: a GPU node registers with a control plane, reports
# its pools in heartbeats, drains a pool, and deregisters on shutdown.
# Everything runs on loopback: orchd-dev (the development control plane) and
# pmd-host-shim (the reference host) loading node_registration.so.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
echo "== building"
scripts/build.sh

work=$(mktemp -d /tmp/pmd-demo.XXXXXX)
cp_pid="" shim_pid=""
cleanup() {
  [ -n "$shim_pid" ] && kill -TERM "$shim_pid" 2>/dev/null && wait "$shim_pid" 2>/dev/null
  [ -n "$cp_pid" ] && kill -TERM "$cp_pid" 2>/dev/null && wait "$cp_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

# A fresh API token, shared by the control plane and the node through files
# only: it is never printed and never on a command line.
umask 077
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/token"
printf 'Authorization: Bearer %s' "$(cat "$work/token")" >"$work/auth-header"

echo "== starting orchd-dev (development control plane) on a free loopback port"
build/tools/orchd-dev/orchd-dev --port 0 --port-file "$work/port" --token-file "$work/token" \
  --offline-timeout-ms 5000 --quiet 2>"$work/orchd.log" &
cp_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
url="http://127.0.0.1:$(cat "$work/port")"
echo "   control plane at $url"

show_nodes() {
  echo "-- GET /v2/nodes (the control plane's view):"
  curl -fsS -H @"$work/auth-header" "$url/v2/nodes" | jq -r '
    if .count == 0 then "   (no nodes registered)" else
    .nodes[] | "   \(.node_id)  status=\(.status)  heartbeats=\(.heartbeats)  version=\(.version)  gpus=\(.capabilities.gpus | length)",
      (.pool_status // [] | .[] |
       "     \(.pool_id): ready=\(.ready) draining=\(.draining) slots=\(.slots_free)/\(.slots_total) engine=\(.engine // "-")")
    end'
}

wait_for() { # wait_for SECONDS JQ-CONDITION
  for _ in $(seq $(($1 * 10))); do
    curl -fsS -H @"$work/auth-header" "$url/v2/nodes" | jq -e "$2" >/dev/null && return 0
    sleep 0.1
  done
  echo "demo: timed out waiting for: $2" >&2
  return 1
}

cp demo/pools.json "$work/pools.json"
cat >"$work/config.json" <<JSON
{"node_id": "gpu-node-1", "machine_id": "machine-alpha", "address": "http://127.0.0.1:9200",
 "orchestratord_url": "$url/", "heartbeat_interval_ms": 1000,
 "api_token_file": "$work/token"}
JSON

echo "== starting pmd-host-shim with node_registration.so (its log follows, indented)"
build/host-shim/pmd-host-shim --plugin build/plugin/node_registration/node_registration.so \
  --config "$work/config.json" --pools "$work/pools.json" \
  --capabilities demo/capabilities.json --tick-ms 100 \
  2> >(sed -u 's/^/   node | /' >&2) &
shim_pid=$!

wait_for 10 '.nodes[0].status == "Online" and .nodes[0].heartbeats >= 2'
show_nodes

echo "== draining pool-1 on the node (the host's pools file changes)"
jq '(.[] | select(.pool_id == "pool-1")) |= (.draining = true | .ready = false | .slots_free = 0)' \
  demo/pools.json >"$work/pools.next" && mv "$work/pools.next" "$work/pools.json"
wait_for 10 '.nodes[0].pool_status | map(select(.pool_id == "pool-1"))[0].draining == true'
show_nodes

echo "== stopping the node (SIGTERM): it deregisters before it exits"
kill -TERM "$shim_pid"
wait "$shim_pid" && echo "   pmd-host-shim exited with status 0"
shim_pid=""
show_nodes
echo "== demo done"
