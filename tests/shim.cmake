# pmd-host-shim's tests: its pure parts in process (shim_units), the binary
# end to end (shim), the metrics endpoint with node_registration.so against
# orchd-dev (shim_metrics), and the command-line contract of the three
# binaries against their man pages (tests/cli_docs.sh). The fixtures they use
# (pmd_test_host, shim_probe, broken_no_entry, fake_nvml) are built in
# host-shim/. Included from tests/CMakeLists.txt; the tests run in the build
# directories they ran in when host-shim/ registered them.
set(shim_dir ${PROJECT_SOURCE_DIR}/host-shim)

add_executable(shim_units_test shim_units_test.c ${shim_dir}/host_callbacks.c)
target_compile_definitions(shim_units_test PRIVATE
  SHIM_PROBE_SO="$<TARGET_FILE:shim_probe>"
  FAKE_NVML_SO="$<TARGET_FILE:fake_nvml>")
target_link_libraries(shim_units_test PRIVATE pmd_test_host PkgConfig::CRITERION)
add_dependencies(shim_units_test shim_probe fake_nvml)
add_test(NAME shim_units COMMAND shim_units_test
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR}/host-shim)

# shim_test's signal and lost-stderr tests run node_registration.so against a
# private orchd-dev, to see the DELETE a clean exit sends.
add_executable(shim_test shim_test.c)
target_compile_definitions(shim_test PRIVATE
  SHIM_EXE="$<TARGET_FILE:pmd-host-shim>"
  EXAMPLE_SO="$<TARGET_FILE:example>"
  SHIM_PROBE_SO="$<TARGET_FILE:shim_probe>"
  NO_ENTRY_SO="$<TARGET_FILE:broken_no_entry>"
  FAKE_NVML_SO="$<TARGET_FILE:fake_nvml>"
  NODE_REGISTRATION_SO="$<TARGET_FILE:node_registration>"
  FIXTURES_DIR="${CMAKE_CURRENT_SOURCE_DIR}/fixtures")
target_link_libraries(shim_test PRIVATE orchd_support PkgConfig::CRITERION)
add_dependencies(shim_test pmd-host-shim example shim_probe broken_no_entry fake_nvml
                 node_registration orchd-dev)
add_test(NAME shim COMMAND shim_test WORKING_DIRECTORY ${PROJECT_BINARY_DIR}/host-shim)

# The metrics endpoint end to end. The independent parser:
# python3-prometheus-client, a Debian package, so Debian's python3 first (a
# python3 earlier on PATH may lack it).
add_executable(shim_metrics_test shim_metrics_test.c)
find_program(PMD_PYTHON3 NAMES python3 PATHS /usr/bin NO_DEFAULT_PATH)
find_program(PMD_PYTHON3 NAMES python3)
if(NOT PMD_PYTHON3)
  set(PMD_PYTHON3 "")
endif()
target_compile_definitions(shim_metrics_test PRIVATE
  SHIM_EXE="$<TARGET_FILE:pmd-host-shim>"
  NODE_REGISTRATION_SO="$<TARGET_FILE:node_registration>"
  EXAMPLE_SO="$<TARGET_FILE:example>"
  PROM_PYTHON="${PMD_PYTHON3}"
  PROM_CHECK_PY="${CMAKE_CURRENT_SOURCE_DIR}/fixtures/prom_check.py")
target_link_libraries(shim_metrics_test PRIVATE orchd_support PkgConfig::CURL
                      PkgConfig::JSONC PkgConfig::CRITERION)
add_dependencies(shim_metrics_test pmd-host-shim node_registration orchd-dev example)
add_test(NAME shim_metrics COMMAND shim_metrics_test --jobs 4
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})

# The command-line contract of the three binaries (-h/--help, --version,
# exit 2 on a usage error) and the man pages against --help.
set(script ${CMAKE_CURRENT_SOURCE_DIR}/cli_docs.sh)
set(man ${PROJECT_SOURCE_DIR}/docs/man)
add_test(NAME shim_cli_docs COMMAND sh ${script} pmd-host-shim $<TARGET_FILE:pmd-host-shim>
                                    ${man}/pmd-host-shim.1
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
add_test(NAME abi_check_usage_docs COMMAND sh ${script} pmd-abi-check
                                           $<TARGET_FILE:pmd-abi-check> ${man}/pmd-abi-check.1
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
add_test(NAME orchd_dev_cli COMMAND sh ${script} orchd-dev $<TARGET_FILE:orchd-dev>
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR})
