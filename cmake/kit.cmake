# The kit a plugin author builds on, installed beside the header (issue 15):
#
#   lib/<multiarch>/cmake/pmd-plugin/   find_package(pmd-plugin): pmd::plugin-abi,
#                                       pmd::abi-check, pmd_add_plugin()
#   share/pmd/plugin.map                the version script (pkg-config: versionscript)
#   share/pmd/template/minimal/         example.c (plugin/example) and its CMakeLists.txt
#   share/pmd/template/http/            http_post.c (plugin/template-http) and its CMakeLists.txt
#
# The same names work in this tree: pmd::plugin-abi and pmd::abi-check are
# aliases of pmd_abi and pmd-abi-check, and find_package(pmd-plugin) finds a
# stand-in that adds nothing (pmd_add_plugin() is already defined) but turns
# the conformance test on for the directory that asked, so
# plugin/template-http/CMakeLists.txt is built here exactly as installed.
include(CMakePackageConfigHelpers)
set(PMD_KIT_DATA_DIR ${CMAKE_INSTALL_DATADIR}/pmd)
set(PMD_KIT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/pmd-plugin)

add_executable(pmd::abi-check ALIAS pmd-abi-check)

# --- installed -------------------------------------------------------------------
set_target_properties(pmd_abi PROPERTIES EXPORT_NAME plugin-abi)
install(TARGETS pmd_abi EXPORT pmd-plugin-targets)
install(EXPORT pmd-plugin-targets NAMESPACE pmd:: FILE pmd-plugin-targets.cmake
        DESTINATION ${PMD_KIT_CMAKE_DIR})
configure_package_config_file(cmake/pmd-plugin-config.cmake.in
  ${PROJECT_BINARY_DIR}/kit/pmd-plugin-config.cmake
  INSTALL_DESTINATION ${PMD_KIT_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_BINDIR PMD_KIT_DATA_DIR PMD_PLUGIN_INSTALL_DIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/kit/pmd-plugin-config-version.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/kit/pmd-plugin-config.cmake
              ${PROJECT_BINARY_DIR}/kit/pmd-plugin-config-version.cmake
              ${PROJECT_SOURCE_DIR}/cmake/pmd_add_plugin.cmake
        DESTINATION ${PMD_KIT_CMAKE_DIR})
install(FILES ${PMD_PLUGIN_VERSION_SCRIPT} DESTINATION ${PMD_KIT_DATA_DIR})
install(FILES ${PROJECT_SOURCE_DIR}/plugin/template-minimal/CMakeLists.txt
              ${PROJECT_SOURCE_DIR}/plugin/example/example.c
        DESTINATION ${PMD_KIT_DATA_DIR}/template/minimal)
install(FILES ${PROJECT_SOURCE_DIR}/plugin/template-http/CMakeLists.txt
              ${PROJECT_SOURCE_DIR}/plugin/template-http/http_post.c
        DESTINATION ${PMD_KIT_DATA_DIR}/template/http)

# --- this tree --------------------------------------------------------------------
set(pmd_kit_redirect ${CMAKE_FIND_PACKAGE_REDIRECTS_DIR})
if(NOT pmd_kit_redirect)
  set(pmd_kit_redirect ${PROJECT_BINARY_DIR}/kit/build-tree)
  set(pmd-plugin_DIR ${pmd_kit_redirect} CACHE PATH "pmd-plugin: this build tree" FORCE)
endif()
file(WRITE ${pmd_kit_redirect}/pmd-plugin-config.cmake
  "# find_package(pmd-plugin) inside the pmd tree (cmake/kit.cmake): pmd::plugin-abi,\n"
  "# pmd::abi-check and pmd_add_plugin() are the project's own; plugins of the\n"
  "# directory that asked get their conformance test, as with the installed kit.\n"
  "set(PMD_PLUGIN_CHECK_DEFAULT ON)\n")
write_basic_package_version_file(${pmd_kit_redirect}/pmd-plugin-config-version.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
add_subdirectory(plugin/template-http)
