# What a system installation needs beyond the binaries (the systemd unit, the
# configuration under /etc/pmd, the documentation) and the Debian package
# made of the whole install tree (CPack's DEB generator).
#
#   scripts/package.sh                         build/pmd-node_<version>_<arch>.deb
#   cpack --config build/CPackConfig.cmake     the same, from a configured tree
#
# Where files land, for the package (prefix /usr) and for cmake --install
# with another prefix (P):
#   bin/pmd-host-shim, bin/pmd-abi-check      /usr/bin              P/bin
#   plugins                                   /usr/lib/<multiarch>/pmd
#   include/pmd_plugin.h, pmd-plugin.pc       /usr/include, /usr/lib/<multiarch>/pkgconfig
#   pmd-node.service                          /lib/systemd/system   P/lib/systemd/system
#   node.json, pools.json (conffiles)         /etc/pmd              P/etc/pmd
#   README.md, docs/protocol.md, ...          /usr/share/doc/pmd-node
#   man pages (docs/man/*.N)                  /usr/share/man/manN
# The unit and the configuration depend on the prefix used at install time,
# not at configure time (cpack installs with the prefix /usr whatever the
# tree was configured with), so deploy/install-system-files.cmake writes
# them during the installation.

set(PMD_PACKAGE_NAME pmd-node)
set(PMD_DOC_INSTALL_DIR ${CMAKE_INSTALL_DATADIR}/doc/${PMD_PACKAGE_NAME})
# Whoever ships the package sets this (-DPMD_MAINTAINER="Team <address>"):
# the default is a placeholder that lintian accepts.
set(PMD_MAINTAINER "pmd developers <pmd@example.org>" CACHE STRING
    "Maintainer of the Debian package: Name <address>")

# systemd's unit directory for the prefix /usr (Debian 12: /lib/systemd/system).
set(PMD_USR_UNIT_DIR /lib/systemd/system)
pkg_get_variable(PMD_SYSTEMD_UNIT_DIR systemd systemdsystemunitdir)
if(PMD_SYSTEMD_UNIT_DIR)
  set(PMD_USR_UNIT_DIR ${PMD_SYSTEMD_UNIT_DIR})
endif()

# --- documentation ------------------------------------------------------------
install(FILES README.md plugin.abi.md deploy/debian/copyright
        DESTINATION ${PMD_DOC_INSTALL_DIR})
install(FILES docs/protocol.md DESTINATION ${PMD_DOC_INSTALL_DIR}/docs)
install(FILES deploy/node.json deploy/pools.json DESTINATION ${PMD_DOC_INSTALL_DIR}/examples)

# Compressed as Debian wants them (gzip -9n: best compression, no time stamp
# or name inside, so the same input gives the same bytes). Man pages are
# whatever docs/man/ holds (pmd-host-shim.1, pmd-abi-check.1, ...).
set(pmd_gz_outputs)
function(pmd_gzip_install src dest_dir dest_name)
  set(out ${PROJECT_BINARY_DIR}/deploy/gz/${dest_name}.gz)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${PROJECT_BINARY_DIR}/deploy/gz
    COMMAND gzip -9n -c ${src} > ${out}
    DEPENDS ${src} VERBATIM)
  install(FILES ${out} DESTINATION ${dest_dir})
  set(pmd_gz_outputs ${pmd_gz_outputs} ${out} PARENT_SCOPE)
endfunction()
configure_file(deploy/debian/changelog.in ${PROJECT_BINARY_DIR}/deploy/debian/changelog @ONLY)
pmd_gzip_install(${PROJECT_BINARY_DIR}/deploy/debian/changelog ${PMD_DOC_INSTALL_DIR} changelog)
file(GLOB PMD_MAN_PAGES CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/man/*.[1-8])
foreach(page ${PMD_MAN_PAGES})
  get_filename_component(name ${page} NAME)
  string(REGEX REPLACE ".*\\.([1-8])$" "\\1" section ${name})
  pmd_gzip_install(${page} ${CMAKE_INSTALL_MANDIR}/man${section} ${name})
endforeach()
add_custom_target(pmd_compressed_docs ALL DEPENDS ${pmd_gz_outputs})

# --- systemd unit and /etc/pmd (written at install time) ------------------------
install(CODE "
set(PMD_UNIT_TEMPLATE \"${PROJECT_SOURCE_DIR}/deploy/pmd-node.service.in\")
set(PMD_CONFIG_FILES \"${PROJECT_SOURCE_DIR}/deploy/node.json;${PROJECT_SOURCE_DIR}/deploy/pools.json\")
set(PMD_STAGING_DIR \"${PROJECT_BINARY_DIR}/deploy/staging\")
set(PMD_REL_BINDIR \"${CMAKE_INSTALL_BINDIR}\")
set(PMD_REL_PLUGINDIR \"${PMD_PLUGIN_INSTALL_DIR}\")
set(PMD_REL_DOCDIR \"${PMD_DOC_INSTALL_DIR}\")
set(PMD_USR_UNIT_DIR \"${PMD_USR_UNIT_DIR}\")
")
install(SCRIPT ${PROJECT_SOURCE_DIR}/deploy/install-system-files.cmake)

# --- the Debian package ---------------------------------------------------------
set(pmd_conffiles ${PROJECT_BINARY_DIR}/deploy/debian/conffiles)
file(WRITE ${pmd_conffiles} "/etc/pmd/node.json\n/etc/pmd/pools.json\n")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ${PMD_PACKAGE_NAME})
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "pmd developers")
set(CPACK_PACKAGE_CONTACT ${PMD_MAINTAINER})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "GPU node registration for llama-orch's orchestratord (pool-managerd plugin)")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "pmd-host-shim loads node_registration.so, a plugin with a versioned C ABI,
which registers this node with the control plane, sends a heartbeat with the
status of its pools every few seconds and deregisters when it stops. The
package also holds pmd-abi-check, the ABI's conformance checker, the ABI
header and pkg-config file for plugin authors, and the pmd-node systemd
unit (Type=notify, hardened, token as a credential).")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${PMD_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)           # Depends from the binaries (dpkg-shlibdeps)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS ca-certificates) # system roots when ca_file is not set
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${pmd_conffiles})
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_SOURCE_GENERATOR "")
include(CPack)
