# Plain-C long runs of node_registration.so against orchd-dev (no Criterion,
# which cannot start under ThreadSanitizer):
#   tsan_stress  instances on several host threads, faults, stats reads
#                racing the network threads (scripts/sanitize.sh, TSan build)
#   soak         25 nodes heartbeating every 100 ms, a fault every 1,000
#                heartbeats (scripts/soak.sh)
# Neither is a ctest test: they run for minutes. Included from
# tests/CMakeLists.txt.
foreach(prog tsan_stress soak)
  add_executable(${prog} ${CMAKE_CURRENT_LIST_DIR}/${prog}.c)
  target_link_libraries(${prog} PRIVATE pmd_test_host orchd_support pmd_loader
                        PkgConfig::JSONC PkgConfig::CURL Threads::Threads)
  target_compile_definitions(${prog} PRIVATE
    NODE_REGISTRATION_SO="$<TARGET_FILE:node_registration>")
  add_dependencies(${prog} node_registration orchd-dev)
endforeach()
