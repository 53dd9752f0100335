# The Rust host binding's tests (hosts/rust): cargo's unit tests, the layout
# check against pmd_abi_layout, the example plugin and orchd-dev end to end,
# the example host, and README.md's `cargo test` command as written. They run
# only where cargo is installed (Debian: package `cargo`); build output goes to
# the build directory (hosts/rust/target), never to the source tree. Included
# from tests/CMakeLists.txt; the tests run in hosts/rust's build directory,
# where they were registered before.
set(rust_dir ${PROJECT_SOURCE_DIR}/hosts/rust)
set(rust_wd ${PROJECT_BINARY_DIR}/hosts/rust)

find_program(CARGO cargo)
if(CARGO)
  set(PMD_RUST_TEST_ENV
    "PMD_ABI_LAYOUT_BIN=$<TARGET_FILE:pmd_abi_layout>"
    "ORCHD_DEV_BIN=$<TARGET_FILE:orchd-dev>"
    "PMD_NODE_REGISTRATION_SO=$<TARGET_FILE:node_registration>"
    "PMD_EXAMPLE_SO=$<TARGET_FILE:example>"
    "CARGO_TARGET_DIR=${rust_wd}/target"
    "PMD_CARGO=${CARGO}")

  # Unit tests, the layout check, the example plugin and orchd-dev end to end.
  add_test(NAME rust_host
    COMMAND ${CARGO} test --offline --manifest-path ${rust_dir}/Cargo.toml
    WORKING_DIRECTORY ${rust_wd})
  # The example host (examples/shim.rs) against orchd-dev for about 3 s.
  add_test(NAME rust_host_example
    COMMAND bash ${rust_dir}/run_example.sh
    WORKING_DIRECTORY ${rust_wd})
  set_tests_properties(rust_host rust_host_example PROPERTIES
    ENVIRONMENT "${PMD_RUST_TEST_ENV}"
    TIMEOUT 300)
  # README.md's `cargo test` command as written, with relative paths, from a
  # stand-in repository root whose build/ is this build tree.
  add_test(NAME rust_host_readme
    COMMAND bash ${rust_dir}/run_readme.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR}
    WORKING_DIRECTORY ${rust_wd})
  set_tests_properties(rust_host_readme PROPERTIES
    ENVIRONMENT "PMD_CARGO=${CARGO}"
    TIMEOUT 300)
else()
  message(STATUS "cargo not found: the Rust host tests (rust_host, rust_host_example, rust_host_readme) are skipped")
endif()
