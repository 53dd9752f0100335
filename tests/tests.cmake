# An end-to-end Criterion test of node_registration.so against orchd-dev:
# test NAME runs NAME_test (built from SOURCE) with --jobs JOBS. Callers add
# what else their test needs (definitions, libraries, a timeout).
function(nr_e2e_test name source jobs)
  add_executable(${name}_test ${source})
  target_link_libraries(${name}_test PRIVATE pmd_test_host orchd_support pmd_loader
                        PkgConfig::JSONC PkgConfig::CRITERION)
  target_compile_definitions(${name}_test PRIVATE
    NODE_REGISTRATION_SO="$<TARGET_FILE:node_registration>")
  add_dependencies(${name}_test node_registration orchd-dev)
  add_test(NAME ${name} COMMAND ${name}_test --jobs ${jobs})
endfunction()

nr_e2e_test(nr_plugin nr_plugin_test.c 2)
nr_e2e_test(nr_resilience nr_resilience_test.c 2)

# Many nodes in one process: one shared network thread, per-node promises kept.
nr_e2e_test(nr_engine nr_engine_test.c 1)
set_tests_properties(nr_engine PROPERTIES TIMEOUT 120)

# A per-deployment build made only for the tests: its baked-in defaults must
# apply, yield to the init config, and pass the conformance checker.
nr_add_deployment(test ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/deploy-test.json)
target_compile_definitions(nr_plugin_test PRIVATE
  NODE_REGISTRATION_TEST_SO="$<TARGET_FILE:node_registration-test>")
add_dependencies(nr_plugin_test node_registration-test)
add_test(NAME abi_check_deployment_build
         COMMAND pmd-abi-check $<TARGET_FILE:node_registration-test>)

# The reference host runs a per-deployment build exactly as it runs the plain
# one: swapping builds needs no change to the host.
foreach(build node_registration node_registration-test)
  add_test(NAME shim_runs_${build}
           COMMAND pmd-host-shim --plugin $<TARGET_FILE:${build}>
                   --config ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/deploy-shim-config.json
                   --run-for 0.5)
endforeach()

# The installed tree is enough to build and run a plugin (pkg-config, header,
# plugin directory, shim, checker).
add_test(NAME install_tree
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/install_test.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR})

# Version negotiation and struct growth, seen from a host.
pmd_add_plugin(major2_plugin fixtures/major2_plugin.c)
# An ABI 1.1 build (abi_minor 1, struct_size PMD_PLUGIN_SIZE_1_1) for the
# 1.2 host's side of the compatibility tests.
pmd_add_plugin(minor1_plugin fixtures/minor1_plugin.c)
# A descriptor smaller than the frozen prefix (plugin.abi.md 3).
pmd_add_plugin(tiny_prefix_plugin fixtures/major2_plugin.c)
target_compile_definitions(tiny_prefix_plugin PRIVATE FIXTURE_TINY_PREFIX)
add_executable(abi_test abi_test.c)
target_link_libraries(abi_test PRIVATE pmd_test_host pmd_loader PkgConfig::CRITERION)
target_compile_definitions(abi_test PRIVATE
  EXAMPLE_SO="$<TARGET_FILE:example>"
  NODE_REGISTRATION_SO="$<TARGET_FILE:node_registration>"
  MAJOR2_SO="$<TARGET_FILE:major2_plugin>"
  MINOR1_SO="$<TARGET_FILE:minor1_plugin>"
  TINY_PREFIX_SO="$<TARGET_FILE:tiny_prefix_plugin>")
add_dependencies(abi_test example node_registration major2_plugin minor1_plugin
                 tiny_prefix_plugin)
add_test(NAME abi COMMAND abi_test --jobs 2)
add_test(NAME shim_refuses_another_major
         COMMAND pmd-host-shim --plugin $<TARGET_FILE:major2_plugin>
                 --config ${CMAKE_CURRENT_SOURCE_DIR}/fixtures/deploy-shim-config.json)
set_tests_properties(shim_refuses_another_major PROPERTIES
  PASS_REGULAR_EXPRESSION "ABI major mismatch: plugin future speaks ABI 2.0")

# Issue 12's real-world faults (tests/faults_test.c): a resolver that never
# answers (needs root for a private network namespace; skipped otherwise),
# stop during a slow register, heartbeat 404 loops, proxy variables, host
# children inheriting sockets, token rotation races, a passphrase-protected
# client key. Each test was red on the code before issue 12's fix.
nr_e2e_test(faults faults_test.c 2)
target_link_libraries(faults_test PRIVATE Threads::Threads util)
target_compile_definitions(faults_test PRIVATE
  SHIM_EXE="$<TARGET_FILE:pmd-host-shim>"
  CAPS_FIXTURE="${CMAKE_CURRENT_SOURCE_DIR}/fixtures/capabilities_h200.json")
add_dependencies(faults_test pmd-host-shim)
set_tests_properties(faults PROPERTIES TIMEOUT 180)

# ABI 1.2 handover in process: no DELETE, no heartbeat gap, Online throughout.
nr_e2e_test(handover handover_test.c 1)

# pmd.host.ext.log_fields/1 (tests/log_fields_test.c): node_registration's
# events as fields or as its text line, the shim's line from fields, and the
# shim running node_registration with and without the extension.
add_executable(log_fields_test log_fields_test.c ${PROJECT_SOURCE_DIR}/host-shim/host_callbacks.c)
target_link_libraries(log_fields_test PRIVATE pmd_test_host orchd_support pmd_loader nr_core
                      PkgConfig::JSONC PkgConfig::CRITERION)
target_compile_definitions(log_fields_test PRIVATE
  SHIM_EXE="$<TARGET_FILE:pmd-host-shim>"
  NODE_REGISTRATION_SO="$<TARGET_FILE:node_registration>")
add_dependencies(log_fields_test pmd-host-shim node_registration orchd-dev)
add_test(NAME log_fields COMMAND log_fields_test --jobs 2)

# Live swap of plugin builds in a running pmd-host-shim (SIGHUP), end to
# end against orchd-dev: handover between node_registration and its
# per-deployment build, rollback from broken builds, the stop+start fallback.
add_executable(shim_swap_test shim_swap_test.c)
target_link_libraries(shim_swap_test PRIVATE orchd_support PkgConfig::CURL PkgConfig::JSONC
                      PkgConfig::CRITERION)
target_compile_definitions(shim_swap_test PRIVATE
  SHIM_EXE="$<TARGET_FILE:pmd-host-shim>"
  NODE_REGISTRATION_SO="$<TARGET_FILE:node_registration>"
  NODE_REGISTRATION_TEST_SO="$<TARGET_FILE:node_registration-test>"
  MAJOR2_SO="$<TARGET_FILE:major2_plugin>"
  MINOR1_SO="$<TARGET_FILE:minor1_plugin>"
  EXAMPLE_SO="$<TARGET_FILE:example>")
add_dependencies(shim_swap_test pmd-host-shim node_registration node_registration-test
                 major2_plugin minor1_plugin example orchd-dev)
add_test(NAME shim_swap COMMAND shim_swap_test --jobs 2)
