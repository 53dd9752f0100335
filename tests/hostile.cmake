# node_registration.so against a hostile control plane (tests/hostile_test.c):
# huge, endless and trickled bodies, bad JSON and types, a redirect to another
# host, a 204 with a body, 1-byte TCP segments, a reset. Included from
# tests/CMakeLists.txt.
add_executable(hostile_test hostile_test.c)
target_link_libraries(hostile_test PRIVATE pmd_test_host orchd_support pmd_loader
                      PkgConfig::JSONC PkgConfig::CRITERION)
target_compile_definitions(hostile_test PRIVATE
  NODE_REGISTRATION_SO="$<TARGET_FILE:node_registration>")
add_dependencies(hostile_test node_registration orchd-dev)
add_test(NAME hostile COMMAND hostile_test --jobs 2)
set_tests_properties(hostile PROPERTIES TIMEOUT 180)
