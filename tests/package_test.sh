#!/usr/bin/env bash
# ctest package_deb: builds the Debian package from this build tree (cpack,
# as scripts/package.sh does), checks its metadata, runs lintian on it,
# unpacks it into a temporary root (dpkg-deb -x: nothing is installed on the
# system), and runs the unpacked shim with the unpacked plugin against
# orchd-dev until the node registers; then stops it and sees the DELETE.
#
#   tests/package_test.sh BUILD_DIR ORCHD_DEV SOURCE_DIR
# Exit 77 (ctest: skipped) when dpkg-deb or dpkg-shlibdeps is missing.
set -euo pipefail
build=$(cd "$1" && pwd)
orchd=$2
source_dir=$(cd "$3" && pwd)

for tool in dpkg-deb dpkg-shlibdeps cpack curl jq; do
  command -v "$tool" >/dev/null || { echo "package_deb: $tool not installed (scripts/deps.sh installs it)"; exit 77; }
done

work=$(mktemp -d)
orchd_pid="" shim_pid=""
cleanup() {
  [ -n "$shim_pid" ] && kill -KILL "$shim_pid" 2>/dev/null
  [ -n "$orchd_pid" ] && kill -TERM "$orchd_pid" 2>/dev/null && wait "$orchd_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "package_deb: FAIL: $*"; exit 1; }

# --- build ----------------------------------------------------------------
# cpack and dpkg-deb -x: tests/deb_unpack.sh, shared with the other package tests.
source "$source_dir/tests/deb_unpack.sh"
pmd_deb_unpack "$build" "$work" || fail "could not build and unpack the package"
deb=$PMD_DEB
echo "package_deb: built ${deb##*/} ($(stat -c %s "$deb") bytes)"

# --- metadata ---------------------------------------------------------------
depends=$(dpkg-deb --field "$deb" Depends)
echo "package_deb: Depends: $depends"
for lib in libc6 libcurl4 libjson-c5 libmicrohttpd12; do
  grep -qE "(^|, )$lib( |,|$)" <<<"$depends" || fail "Depends lacks $lib"
done
# Nothing of the build or test toolchain, and no GnuTLS (orchd-dev's, not shipped).
if grep -qiE "criterion|valgrind|cmake|gcc|clang|gnutls|-dev( |,|$)" <<<"$depends"; then
  fail "Depends names a build or test package: $depends"
fi
# Every runtime dependency is named in the README's Install section.
install_section=$(awk '/^## Install/{on=1; next} on && /^## /{exit} on' "$source_dir/README.md")
for pkg in $(sed 's/([^)]*)//g; s/,/ /g' <<<"$depends"); do
  grep -q "\`$pkg\`" <<<"$install_section" || fail "README's Install section does not name $pkg"
done
conffiles=$(dpkg-deb --ctrl-tarfile "$deb" | tar -xOf - ./conffiles)
[ "$conffiles" = $'/etc/pmd/node.json\n/etc/pmd/pools.json' ] || fail "conffiles: $conffiles"

# --- lintian ----------------------------------------------------------------
if command -v lintian >/dev/null; then
  rc=0
  report=$(lintian --fail-on error "$deb" 2>&1) || rc=$?
  report=$(grep -v 'running with root privileges' <<<"$report" || true)
  echo "package_deb: lintian: $(grep -c '^E:' <<<"$report" || true) errors, $(grep -c '^W:' <<<"$report" || true) warnings"
  [ -z "$report" ] || sed 's/^/  /' <<<"$report"
  [ "$rc" = 0 ] || fail "lintian reports errors"
else
  echo "package_deb: lintian not installed (scripts/deps.sh installs it): lintian check NOT run"
fi

# --- unpack -------------------------------------------------------------------
root=$PMD_DEB_ROOT   # dpkg-deb -x "$deb" "$root" by pmd_deb_unpack above
shim=$root/usr/bin/pmd-host-shim
plugins=("$root"/usr/lib/*/pmd/node_registration.so)
[ ${#plugins[@]} = 1 ] && [ -f "${plugins[0]}" ] || fail "no usr/lib/<multiarch>/pmd/node_registration.so"
plugin=${plugins[0]}
multiarch=${plugin#"$root/usr/lib/"}
multiarch=${multiarch%%/*}
[[ $multiarch == *-linux-* ]] || fail "plugins in usr/lib/$multiarch/pmd, not usr/lib/<multiarch>/pmd"
for f in "$shim" "$root/usr/bin/pmd-abi-check" "$plugin" "$root/usr/include/pmd_plugin.h" \
         "$root/etc/pmd/node.json" "$root/lib/systemd/system/pmd-node.service" \
         "$root/usr/share/doc/pmd-node/copyright" "$root/usr/share/doc/pmd-node/docs/protocol.md"; do
  [ -e "$f" ] || fail "not in the package: ${f#"$root"}"
done
# The pkg-config file is relocatable: it finds the unpacked plugin directory.
pc=$(echo "$root"/usr/lib/*/pkgconfig/pmd-plugin.pc)
plugindir=$(PKG_CONFIG_PATH=${pc%/*} pkg-config --variable=plugindir pmd-plugin)
[ "$plugindir/node_registration.so" -ef "$plugin" ] || fail "pkg-config plugindir $plugindir"
# The unit runs the files the package ships (paths as installed, under /).
unit=$root/lib/systemd/system/pmd-node.service
for path in $(grep -oE '/(usr|etc)/[^ ]+' "$unit" | sort -u); do
  [ "$path" = /etc/pmd/api-token ] && continue   # the operator's secret: never shipped
  [ -e "$root$path" ] || fail "the unit names $path, which the package lacks"
done
"$root/usr/bin/pmd-abi-check" --only load,exports,descriptor "$plugin" >"$work/abi.log" 2>&1 ||
  { cat "$work/abi.log"; fail "pmd-abi-check refuses the packaged plugin"; }

# --- run the unpacked node against orchd-dev --------------------------------------
umask 077
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/token"
"$orchd" --port 0 --port-file "$work/port" --token-file "$work/token" --quiet 2>"$work/orchd.log" &
orchd_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.05; done
[ -s "$work/port" ] || { cat "$work/orchd.log"; fail "orchd-dev did not start"; }
url="http://127.0.0.1:$(cat "$work/port")"
cat >"$work/node.json" <<JSON
{"node_id": "pkg-node", "address": "http://127.0.0.1:9200", "orchestratord_url": "$url/",
 "api_token_file": "$work/token", "heartbeat_interval_ms": 300}
JSON
"$shim" --plugin "$plugin" --config "$work/node.json" --pools "$root/etc/pmd/pools.json" \
  --capabilities "$source_dir/tests/fixtures/capabilities_h200.json" 2>"$work/shim.log" &
shim_pid=$!
registered=0
for _ in $(seq 100); do
  if curl -fsS "$url/_dev/nodes" | jq -e '.nodes[] | select(.node_id == "pkg-node" and .heartbeats >= 1)' >/dev/null; then
    registered=1
    break
  fi
  kill -0 "$shim_pid" 2>/dev/null || break
  sleep 0.1
done
[ "$registered" = 1 ] || { cat "$work/shim.log"; fail "the unpacked node did not register and heartbeat"; }
kill -TERM "$shim_pid"
rc=0
wait "$shim_pid" || rc=$?
shim_pid=""
[ "$rc" = 0 ] || { cat "$work/shim.log"; fail "pmd-host-shim exited $rc after SIGTERM"; }
deletes=$(curl -fsS "$url/_dev/requests" |
  jq '[.[] | select(.method == "DELETE" and .raw_path == "/v2/nodes/pkg-node" and .status == 204)] | length')
[ "$deletes" = 1 ] || { cat "$work/shim.log"; fail "expected one DELETE answered 204, saw $deletes"; }
echo "package_deb: the unpacked node registered, heartbeated and deregistered (DELETE 204)"
echo "package_deb: OK"
