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

# Descriptor exhaustion: 150 nodes under a limit of 96 descriptors. The
# instances past the limit fail init() with a reason the host sees
# (PMD_ERR_RESOURCE, the wake-up eventfd); the rest register and heartbeat;
# stopping all of them is quick (no silent retry loop, no unbounded stop).
add_test(NAME pmd_fleet_descriptor_limit COMMAND ${fleet_cmd}
         WORKING_DIRECTORY ${PROJECT_BINARY_DIR}/tools/pmd-fleet)
set_tests_properties(pmd_fleet_descriptor_limit PROPERTIES TIMEOUT 60 ENVIRONMENT
  "FLEET_NODES=150;FLEET_RUN_FOR=5;FLEET_NOFILE=96;FLEET_MAX_SPREAD=100"
  "FLEET_EXPECT=init failed [1-9][0-9]*, start failed 0. first: [^ ]+: init: resource unavailable .*eventfd"
  "FLEET_EXPECT_2=stop: all 150 in [0-2][.]")
