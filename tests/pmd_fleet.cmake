# pmd-fleet (tools/pmd-fleet) end to end: tools/pmd-fleet/fleet_test.sh runs
# orchd-dev and a fleet of node_registration.so instances. Included from
# tests/CMakeLists.txt; runs in tools/pmd-fleet's build directory, where it
# was registered before.
set(fleet_dir ${PROJECT_SOURCE_DIR}/tools/pmd-fleet)
set(fleet_cmd ${fleet_dir}/fleet_test.sh $<TARGET_FILE:orchd-dev> $<TARGET_FILE:pmd-fleet>
              $<TARGET_FILE:node_registration> ${fleet_dir}/fleet-test-config.json)

# 100 nodes booted together at a 2 s interval against orchd-dev for 8 s: every
# node registered, and after the first interval the fullest 100 ms bin of
# what orchd-dev received is at most 5x the mean (nodes in step: 7-15x; the
# worst alignment of these 100 phases with the bins gives 2.2x).
add_test(NAME pmd_fleet_spread COMMAND ${fleet_cmd}
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR}/tools/pmd-fleet)
set_tests_properties(pmd_fleet_spread PROPERTIES TIMEOUT 60)

# Descriptor exhaustion: 150 nodes under a limit of 96 descriptors. Every
# node's connection lives in the shared network thread's table, so the nodes
# past what fits (96 less 16 for the thread's own) fail start() with
# PMD_ERR_RESOURCE and one error line that names the limit; the rest register
# and heartbeat; stopping all of them is quick (no silent retry loop, no
# unbounded stop). One ENVIRONMENT list: the expectations must reach the
# script (they did not while they were separate arguments).
add_test(NAME pmd_fleet_descriptor_limit COMMAND ${fleet_cmd}
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR}/tools/pmd-fleet)
set_tests_properties(pmd_fleet_descriptor_limit PROPERTIES TIMEOUT 60 ENVIRONMENT
  "FLEET_NODES=150;FLEET_RUN_FOR=5;FLEET_NOFILE=96;FLEET_MAX_SPREAD=100;FLEET_EXPECT=init failed 0, start failed 70. first: fleet-080: start: resource unavailable .node=fleet-080 event=start_failed reason=.descriptor limit;FLEET_EXPECT_2=stop: all 150 in [0-2][.];FLEET_EXPECT_3=event=start_failed reason=.descriptor limit: node 81 of this process needs a connection, and RLIMIT_NOFILE 96;FLEET_EXPECT_4=at the end: registered 80 registering 0 degraded 0")
