# The plugin author's kit (issue 15 #4-#6): installed to a temporary prefix
# and unpacked from the Debian package, each template built out of tree with
# find_package(pmd-plugin) and with pkg-config, checked by pmd-abi-check and
# run in pmd-host-shim; and docs/tutorial.md, every command of it run.
# Not in sanitizer builds: the installed tools would be instrumented, the
# plugins built from the kit not. Included from tests/CMakeLists.txt; they run
# in the top of the build tree, where they were registered before.
if(NOT PMD_SANITIZE)
  add_test(NAME kit_install
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/kit_test.sh install ${PROJECT_BINARY_DIR}
                   ${PROJECT_SOURCE_DIR}
           WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  add_test(NAME tutorial
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/tutorial_test.sh ${PROJECT_BINARY_DIR}
                   ${PROJECT_SOURCE_DIR}
           WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  # The .deb: cpack in this tree (its preinstall step runs make here), one at a time.
  add_test(NAME kit_deb
           COMMAND ${CMAKE_CURRENT_LIST_DIR}/kit_test.sh deb ${PROJECT_BINARY_DIR}
                   ${PROJECT_SOURCE_DIR}
           WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
  set_tests_properties(kit_install kit_deb tutorial PROPERTIES TIMEOUT 150 SKIP_RETURN_CODE 77)
  set_tests_properties(kit_deb PROPERTIES RESOURCE_LOCK pmd_cpack)
endif()
