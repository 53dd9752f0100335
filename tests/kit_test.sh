#!/usr/bin/env bash
# ctest kit_install, kit_deb: a plugin author's first builds, from nothing but
# the installed kit.
#
#   tests/kit_test.sh install|deb BUILD_DIR SOURCE_DIR
#
# install: cmake --install of this tree into a temporary prefix;
# deb:     the Debian package built from this tree and unpacked (dpkg-deb -x,
#          see deb_unpack.sh), prefix ROOT/usr.
# Then, for each template under share/pmd/template (minimal: the example
# plugin; http: the I/O template), copied to a scratch directory:
#   1. CMake: configure with CMAKE_PREFIX_PATH=PREFIX (find_package(pmd-plugin)),
#      build, and ctest: pmd_add_plugin's abi_check_<name> runs every check of
#      the installed pmd-abi-check, which must pass;
#   2. pkg-config: one cc command with the kit's cflags and version script;
#      the installed checker's build-dependent checks pass on the result
#      (the timing checks ran on the CMake build of the same source);
#   3. each build exports pmd_plugin_entry only;
#   4. the installed pmd-host-shim runs each build for a second (the http
#      template posts to tests/fixtures/post_sink.py meanwhile) and exits 0.
# The pkg-config file's paths are checked too: no "//" or "/./", and each
# names what it should. Exit 77 (skipped) when a tool is missing.
set -euo pipefail
mode=$1
build=$(cd "$2" && pwd)
source_dir=$(cd "$3" && pwd)
name="kit_$mode"

for tool in cmake cc pkg-config nm python3 timeout; do
  command -v "$tool" >/dev/null || { echo "$name: $tool not installed"; exit 77; }
done

work=$(mktemp -d)
sink_pid=""
cleanup() {
  if [ -n "$sink_pid" ]; then
    kill "$sink_pid" 2>/dev/null || true
    wait "$sink_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "$name: FAIL: $*"; exit 1; }
step() { echo "$name: $*"; }

# --- the kit ---------------------------------------------------------------------
case $mode in
install)
  prefix=$work/prefix
  cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 ||
    { cat "$work/install.log"; fail "cmake --install"; }
  ;;
deb)
  for tool in cpack dpkg-deb dpkg-shlibdeps; do
    command -v "$tool" >/dev/null || { echo "$name: $tool not installed"; exit 77; }
  done
  source "$source_dir/tests/deb_unpack.sh"
  pmd_deb_unpack "$build" "$work" || fail "could not build and unpack the package"
  prefix=$PMD_DEB_ROOT/usr
  step "unpacked ${PMD_DEB##*/}"
  ;;
*) echo "usage: $0 install|deb BUILD_DIR SOURCE_DIR"; exit 2 ;;
esac

pcs=("$prefix"/lib/*/pkgconfig/pmd-plugin.pc "$prefix"/lib/pkgconfig/pmd-plugin.pc)
pc=""
for f in "${pcs[@]}"; do [ -f "$f" ] && pc=$f && break; done
[ -n "$pc" ] || fail "no pmd-plugin.pc under $prefix/lib"
export PKG_CONFIG_PATH=${pc%/*}
for f in "$prefix/include/pmd_plugin.h" "$prefix/bin/pmd-abi-check" "$prefix/bin/pmd-host-shim" \
         "$prefix/share/pmd/plugin.map" "$prefix/share/pmd/template/minimal/CMakeLists.txt" \
         "$prefix/share/pmd/template/minimal/example.c" "$prefix/share/pmd/template/http/CMakeLists.txt" \
         "$prefix/share/pmd/template/http/http_post.c"; do
  [ -f "$f" ] || fail "not installed: ${f#"$prefix/"}"
done
ls "$prefix"/lib/*/cmake/pmd-plugin/pmd-plugin-config.cmake >/dev/null 2>&1 ||
  ls "$prefix"/lib/cmake/pmd-plugin/pmd-plugin-config.cmake >/dev/null 2>&1 ||
  fail "no lib/<multiarch>/cmake/pmd-plugin/pmd-plugin-config.cmake"

# --- pkg-config: normalised paths that name the kit ------------------------------------
cflags=$(pkg-config --cflags pmd-plugin)
for var in includedir plugindir versionscript templatedir abicheck; do
  value=$(pkg-config --variable=$var pmd-plugin)
  case $value in *//* | */./* | */) fail "pkg-config $var is not normalised: $value" ;; esac
  printf -v "pc_$var" '%s' "$value"
done
[ "$cflags" = "-I$pc_includedir " ] || [ "$cflags" = "-I$pc_includedir" ] || fail "cflags: $cflags"
[ "$pc_includedir" -ef "$prefix/include" ] || fail "includedir $pc_includedir"
[ "$pc_versionscript" -ef "$prefix/share/pmd/plugin.map" ] || fail "versionscript $pc_versionscript"
[ "$pc_templatedir" -ef "$prefix/share/pmd/template" ] || fail "templatedir $pc_templatedir"
[ "$pc_abicheck" -ef "$prefix/bin/pmd-abi-check" ] || fail "abicheck $pc_abicheck"
[ -f "$pc_plugindir/node_registration.so" ] || fail "plugindir $pc_plugindir lacks node_registration.so"

only_exports_entry() {
  local exports
  exports=$(nm -D --defined-only "$1" | awk '{print $3}' | grep -v '^_' | tr '\n' ' ')
  [ "$exports" = "pmd_plugin_entry " ] || fail "$1 exports: $exports"
}

# The http template's endpoint, for the shim runs.
python3 "$source_dir/tests/fixtures/post_sink.py" "$work/sink.port" >"$work/sink.log" 2>&1 &
sink_pid=$!
for _ in $(seq 100); do [ -s "$work/sink.port" ] && break; sleep 0.05; done
[ -s "$work/sink.port" ] || { cat "$work/sink.log"; fail "post_sink.py did not start"; }
sink_url="http://127.0.0.1:$(cat "$work/sink.port")/kit"

run_in_shim() { # PLUGIN CONFIG_TEXT LABEL
  echo "$2" >"$work/$3.json"
  timeout -k 5 20 "$prefix/bin/pmd-host-shim" --plugin "$1" --config "$work/$3.json" \
    --run-for 1.2 --log-level debug >"$work/$3.shim.log" 2>&1 ||
    { cat "$work/$3.shim.log"; fail "$3: pmd-host-shim exited $?"; }
}

# --- each template, two ways (the two at once: the checks mostly wait) ---------------------
template() {
  local t=$1 so cfg mods src found
  case $t in
  minimal) so=example.so cfg='{}' mods=json-c ;;
  http) so=http_post.so cfg="{\"url\": \"$sink_url\"}" mods="libcurl json-c" ;;
  esac
  src=$work/$t
  cp -r "$prefix/share/pmd/template/$t" "$src"
  chmod -R u+w "$src"

  # 1. CMake, find_package(pmd-plugin) against the prefix; ctest checks the plugin.
  cmake -S "$src" -B "$src/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >"$work/$t.cmake.log" 2>&1 || { cat "$work/$t.cmake.log"; fail "$t: cmake configure"; }
  grep -q "pmd-plugin" "$src/build/CMakeCache.txt" || fail "$t: find_package(pmd-plugin) left no trace"
  found=$(sed -n 's/^pmd-plugin_DIR:PATH=//p' "$src/build/CMakeCache.txt")
  [[ $found == "$prefix"/lib/*cmake/pmd-plugin ]] || fail "$t: find_package found $found, not the kit in $prefix"
  cmake --build "$src/build" >"$work/$t.build.log" 2>&1 || { cat "$work/$t.build.log"; fail "$t: build"; }
  ctest --test-dir "$src/build" --output-on-failure >"$work/$t.ctest.log" 2>&1 ||
    { cat "$work/$t.ctest.log"; fail "$t: ctest (pmd-abi-check)"; }
  grep -q "abi_check_${so%.so} .*Passed" "$work/$t.ctest.log" || { cat "$work/$t.ctest.log"; fail "$t: no abi_check test ran"; }
  only_exports_entry "$src/build/$so"
  step "$t: find_package(pmd-plugin) build, ctest abi_check_${so%.so} passed"

  # 2. pkg-config and one cc command, as the tutorial shows it.
  # shellcheck disable=SC2046
  cc -shared -fPIC -fvisibility=hidden $(pkg-config --cflags pmd-plugin $mods) \
     -o "$src/pc-$so" "$src/${so%.so}.c" \
     -Wl,--version-script="$(pkg-config --variable=versionscript pmd-plugin)" -Wl,-z,defs \
     $(pkg-config --libs $mods) >"$work/$t.cc.log" 2>&1 || { cat "$work/$t.cc.log"; fail "$t: cc with pkg-config"; }
  only_exports_entry "$src/pc-$so"
  "$prefix/bin/pmd-abi-check" --only load,exports,descriptor,abi-major,struct-size,init-errors,lifecycle,teardown,no-global-effects \
    "$src/pc-$so" >"$work/$t.pc-check.log" 2>&1 || { cat "$work/$t.pc-check.log"; fail "$t: pmd-abi-check on the pkg-config build"; }
  step "$t: pkg-config build, pmd-abi-check passed"

  # 4. Both builds run in the shim.
  run_in_shim "$src/build/$so" "$cfg" "$t-cmake"
  run_in_shim "$src/pc-$so" "$cfg" "$t-pc"
}
template minimal >"$work/minimal.out" 2>&1 &
minimal_pid=$!
rc=0
(template http) || rc=$?
wait "$minimal_pid" || rc=$?
cat "$work/minimal.out"
[ "$rc" = 0 ] || fail "a template failed (above)"
grep -q 'http_post: started' "$work/http-cmake.shim.log" || { cat "$work/http-cmake.shim.log"; fail "http: no start line"; }
for label in http-cmake http-pc; do
  grep -q 'http_post: seq=1: posted' "$work/$label.shim.log" || { cat "$work/$label.shim.log"; fail "$label: nothing posted"; }
done
[ "$(grep -c '^POST /kit seq=' "$work/sink.log")" -ge 2 ] || { cat "$work/sink.log"; fail "the endpoint saw no POSTs"; }
step "both templates ran in pmd-host-shim; the endpoint saw $(grep -c '^POST /kit' "$work/sink.log") POSTs"
step "OK"
