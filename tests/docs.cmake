# Documentation and packaging tests (issue 14): links, the Debian package,
# the systemd unit, the README's install walkthrough. Each is a script that
# can also be run by hand; none installs anything system-wide. Included from
# tests/CMakeLists.txt; they run in the top of the build tree, where they were
# registered before.

# Every relative Markdown link resolves inside the repository; no file names
# a development machine's path.
add_test(NAME docs_links COMMAND ${CMAKE_CURRENT_LIST_DIR}/docs_links.sh ${PROJECT_SOURCE_DIR}
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
set_tests_properties(docs_links PROPERTIES TIMEOUT 60)

# pmd-node.service as installed: systemd-analyze verify and security, the
# promised settings, unshare(2) still allowed.
add_test(NAME systemd_unit COMMAND ${CMAKE_CURRENT_LIST_DIR}/systemd_unit_test.sh ${PROJECT_BINARY_DIR}
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
set_tests_properties(systemd_unit PROPERTIES TIMEOUT 60 SKIP_RETURN_CODE 77)

# The Debian package: built with cpack, lintian-clean, unpacked into a
# temporary root and run against orchd-dev; and the README's install
# walkthrough, run against the same unpacked files. Both run cpack in this
# tree (its preinstall step runs make here): one at a time.
# Not in sanitizer builds: a package of instrumented binaries means nothing.
if(NOT PMD_SANITIZE)
  add_test(NAME package_deb
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/package_test.sh ${PROJECT_BINARY_DIR}
                   $<TARGET_FILE:orchd-dev> ${PROJECT_SOURCE_DIR}
           WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  add_test(NAME install_walkthrough
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/install_walkthrough_test.sh ${PROJECT_BINARY_DIR}
                   $<TARGET_FILE:orchd-dev> ${PROJECT_SOURCE_DIR}
           WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(package_deb install_walkthrough PROPERTIES
    TIMEOUT 90 SKIP_RETURN_CODE 77 RESOURCE_LOCK pmd_cpack)
endif()

# plugin.abi.md section 14's minimal host compiles as the section says and
# runs the example plugin. Not in sanitizer builds: an instrumented plugin
# cannot be loaded into the uninstrumented host the section compiles.
if(NOT PMD_SANITIZE)
  add_test(NAME doc_minimal_host
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/doc_min_host_test.sh ${PROJECT_SOURCE_DIR}
                   $<TARGET_FILE:example>
           WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(doc_minimal_host PROPERTIES TIMEOUT 60)
endif()
