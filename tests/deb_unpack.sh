# Sourced by the tests that need the Debian package as a user gets it
# (package_test.sh, install_walkthrough_test.sh, kit_test.sh, tutorial_test.sh):
#
#   pmd_deb_unpack BUILD_DIR WORK_DIR
#
# builds the package from BUILD_DIR's tree with cpack, as scripts/package.sh
# does (cpack's preinstall step runs make there: callers hold the ctest
# resource lock pmd_cpack), into WORK_DIR/out, and unpacks it into
# WORK_DIR/root with dpkg-deb -x (nothing is installed on the system). Sets
# PMD_DEB (the .deb) and PMD_DEB_ROOT (the unpacked root; the package's
# prefix is PMD_DEB_ROOT/usr). On failure prints cpack's log and returns 1.
pmd_deb_unpack() {
  local build=$1 work=$2 debs
  if ! cpack --config "$build/CPackConfig.cmake" -G DEB -B "$work/out" >"$work/cpack.log" 2>&1; then
    cat "$work/cpack.log"
    echo "pmd_deb_unpack: cpack failed"
    return 1
  fi
  debs=("$work"/out/pmd-node_*.deb)
  if [ ${#debs[@]} != 1 ] || [ ! -f "${debs[0]}" ]; then
    echo "pmd_deb_unpack: expected one pmd-node_*.deb, got: ${debs[*]}"
    return 1
  fi
  PMD_DEB=${debs[0]}
  PMD_DEB_ROOT=$work/root
  dpkg-deb -x "$PMD_DEB" "$PMD_DEB_ROOT"
}
