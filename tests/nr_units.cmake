# Unit tests of nr_core's pure modules (Criterion). Included from
# tests/CMakeLists.txt, beside nr_schedule and nr_machine.
foreach(name nr_config nr_records nr_payload nr_retry_after)
  add_executable(${name}_test ${PROJECT_SOURCE_DIR}/tests/${name}_test.c)
  target_link_libraries(${name}_test PRIVATE nr_core PkgConfig::CRITERION)
  add_test(NAME ${name} COMMAND ${name}_test --jobs 2)
  set_tests_properties(${name} PROPERTIES TIMEOUT 60)
endforeach()
