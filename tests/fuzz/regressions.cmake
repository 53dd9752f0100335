# The fuzz regression test: every input under tests/fuzz/regressions/<target>/
# (crashes the fuzzers found, kept after the fix) and every seed under
# tests/fuzz/corpus/<target>/, replayed through the same harness functions the
# libFuzzer targets call (fuzz_*.c built without their LLVMFuzzerTestOneInput).
# Any compiler; included from tests/CMakeLists.txt (Criterion is required there).
set(NR_FUZZ_DIR ${CMAKE_CURRENT_LIST_DIR})
add_executable(fuzz_regressions_test
  ${NR_FUZZ_DIR}/../fuzz_regressions_test.c
  ${NR_FUZZ_DIR}/fuzz_config.c ${NR_FUZZ_DIR}/fuzz_response.c ${NR_FUZZ_DIR}/fuzz_records.c
  ${NR_FUZZ_DIR}/fuzz_support.c)
target_include_directories(fuzz_regressions_test PRIVATE ${NR_FUZZ_DIR})
target_compile_definitions(fuzz_regressions_test PRIVATE NR_FUZZ_NO_ENTRY
  NR_FUZZ_DIR="${NR_FUZZ_DIR}")
target_link_libraries(fuzz_regressions_test PRIVATE nr_core PkgConfig::JSONC PkgConfig::CRITERION)
add_test(NAME fuzz_regressions COMMAND fuzz_regressions_test --jobs 2)
set_tests_properties(fuzz_regressions PROPERTIES TIMEOUT 120)
