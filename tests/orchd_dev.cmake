# orchd-dev's own suite (tests/orchd_dev_test.c). Included from
# tests/CMakeLists.txt; runs in tools/orchd-dev's build directory, where it
# was registered before.
add_executable(orchd_dev_test orchd_dev_test.c)
target_link_libraries(orchd_dev_test PRIVATE orchd_support PkgConfig::CRITERION PkgConfig::CURL
                      PkgConfig::JSONC Threads::Threads)
add_test(NAME orchd_dev COMMAND orchd_dev_test
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR}/tools/orchd-dev)
set_tests_properties(orchd_dev PROPERTIES TIMEOUT 120)
