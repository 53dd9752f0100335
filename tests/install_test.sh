#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds a plugin and a host
# against nothing but the installed header (found through pkg-config), and
# runs the installed shim on the installed example plugin.
set -euo pipefail
build_dir=$1
source_dir=$2
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build_dir" --prefix "$prefix" >/dev/null
# lib/<multiarch>/pkgconfig on Debian (see CMakeLists.txt), else lib/pkgconfig.
pc=$(find "$prefix" -path '*/pkgconfig/pmd-plugin.pc' | head -n 1)
[ -n "$pc" ] || { echo "pmd-plugin.pc not installed"; exit 1; }
export PKG_CONFIG_PATH=${pc%/*}
cflags=$(pkg-config --cflags pmd-plugin)
plugindir=$(pkg-config --variable=plugindir pmd-plugin)
test -f "$plugindir/node_registration.so"
# The plugin directory is the library directory's pmd/, as the README says.
libdir=$(cd "${pc%/*}/.." && pwd)
[ "$plugindir" -ef "$libdir/pmd" ] || { echo "plugindir $plugindir is not $libdir/pmd"; exit 1; }
# The systemd unit and the example configuration, written for this prefix.
grep -qFx "ExecStart=$prefix/bin/pmd-host-shim --plugin $libdir/pmd/node_registration.so \\" \
  "$prefix/lib/systemd/system/pmd-node.service"
test -f "$prefix/etc/pmd/node.json"
test -f "$plugindir/example.so"
cc $cflags -fvisibility=hidden -shared -fPIC -o "$prefix/copy.so" \
   "$source_dir/plugin/example/example.c" $(pkg-config --cflags --libs json-c)
exports=$(nm -D --defined-only "$prefix/copy.so" | awk '{print $3}' | grep -v '^_' | tr '\n' ' ')
[ "$exports" = "pmd_plugin_entry " ] || { echo "unexpected exports: $exports"; exit 1; }
echo '{}' >"$prefix/config.json"
"$prefix/bin/pmd-host-shim" --plugin "$prefix/copy.so" --config "$prefix/config.json" --run-for 0.3
"$prefix/bin/pmd-abi-check" --only load,exports,descriptor "$plugindir/node_registration.so"
echo "install tree OK: $prefix"
