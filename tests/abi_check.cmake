# pmd-abi-check's own tests: each deliberately broken plugin
# (tools/abi-check/broken) must fail the check it targets, the command-line
# contract, --in-process, --config/--json, and the checker clean under
# valgrind. Included from tests/CMakeLists.txt; the tests run in
# tools/abi-check's build directory, where they were registered before.
# (abi_check_<plugin> for the shipped plugins comes from pmd_add_plugin(CHECK).)
set(abi_check_dir ${PROJECT_SOURCE_DIR}/tools/abi-check)
set(abi_check_wd ${PROJECT_BINARY_DIR}/tools/abi-check)

# Runs the checker through expect.cmake: exit status and output asserted.
function(pmd_abi_check_expect name rc regex)
  string(REPLACE ";" "|" args "${ARGN}")
  add_test(NAME ${name}
           COMMAND ${CMAKE_COMMAND} -DCHECKER=$<TARGET_FILE:pmd-abi-check> "-DARGS=${args}"
                   -DEXPECT_RC=${rc} "-DEXPECT_REGEX=${regex}"
                   -P ${abi_check_dir}/expect.cmake
           WORKING_DIRECTORY ${abi_check_wd})
  set_tests_properties(${name} PROPERTIES TIMEOUT 120)
endfunction()

# Each broken plugin must FAIL the check it targets: exit 1 and a FAIL line.
set(PMD_BROKEN_TESTS
  load:load exports:exports descriptor:descriptor abi_major:abi-major
  struct_size:struct-size init_errors:init-errors null_config:init-errors lifecycle:lifecycle
  instances:instances host_thread:host-thread teardown:teardown unload:unload-cycles
  global:no-global-effects tick_cost:tick-cost stop_bound:stop-bound)
foreach(pair ${PMD_BROKEN_TESTS})
  string(REPLACE ":" ";" parts ${pair})
  list(GET parts 0 plugin)
  list(GET parts 1 check)
  pmd_abi_check_expect(abi_check_broken_${plugin} 1 "FAIL  ${check}  \\[rule "
                       --only ${check} $<TARGET_FILE:broken_${plugin}>)
endforeach()

# The handover ones run all four handover checks: theirs fails, no other.
set(PMD_HANDOVER_CHECKS handover-offered,handover-no-delete,handover-stop-bound,handover-args)
foreach(pair handover_offered:handover-offered handover_delete:handover-no-delete
             handover_stop_bound:handover-stop-bound handover_args:handover-args)
  string(REPLACE ":" ";" parts ${pair})
  list(GET parts 0 plugin)
  list(GET parts 1 check)
  pmd_abi_check_expect(abi_check_broken_${plugin} 1
                       "FAIL  ${check}  \\[rule .*\n[0-9]+ passed, 1 failed, [0-9]+ skipped"
                       --only ${PMD_HANDOVER_CHECKS} $<TARGET_FILE:broken_${plugin}>)
endforeach()

# The checks of plugin.abi.md rules 20-26 and the stricter stop-bound: each
# of their broken plugins runs all of them and must fail exactly its own.
set(PMD_SPEC_CHECKS
  struct-bounds,init-buffers,callbacks,plugin-threads,process-state,tick-max,negotiation,stop-bound)
foreach(pair struct_bounds:struct-bounds init_buffers:init-buffers calls:callbacks
             plugin_threads:plugin-threads process_state:process-state tick_max:tick-max
             negotiation:negotiation stop_bound_stats:stop-bound)
  string(REPLACE ":" ";" parts ${pair})
  list(GET parts 0 plugin)
  list(GET parts 1 check)
  pmd_abi_check_expect(abi_check_broken_${plugin} 1
                       "FAIL  ${check}  \\[rule .*\n[0-9]+ passed, 1 failed, [0-9]+ skipped"
                       --only ${PMD_SPEC_CHECKS} $<TARGET_FILE:broken_${plugin}>)
endforeach()

# Command-line contract: usage errors exit 2, --list names every check.
pmd_abi_check_expect(abi_check_usage_unknown_check 2 "unknown check" --only no-such-check x.so)
pmd_abi_check_expect(abi_check_usage_no_plugin 2 "no plugin given" --json)
pmd_abi_check_expect(abi_check_list 0 "stop-bound +ABI-STOP-BOUND" --list)
pmd_abi_check_expect(abi_check_usage_help 0 "usage: pmd-abi-check PLUGIN.so.*--valgrind-safe.*Exit status" --help)
pmd_abi_check_expect(abi_check_usage_help_short 0 "usage: pmd-abi-check PLUGIN.so" -h)
pmd_abi_check_expect(abi_check_usage_version 0 "^pmd-abi-check [0-9]+\\.[0-9]+\\.[0-9]+ \\(plugin ABI [0-9]+\\.[0-9]+\\)" --version)
pmd_abi_check_expect(abi_check_usage_unknown_option 2 "unknown or incomplete option --frobnicate" --frobnicate x.so)
# A plugin file that is missing, not a file or not ELF: one usage line, exit 2,
# no check run (was one FAIL per check, exit 1).
function(pmd_abi_check_usage_only name regex plugin)
  add_test(NAME ${name}
           COMMAND ${CMAKE_COMMAND} -DCHECKER=$<TARGET_FILE:pmd-abi-check> "-DARGS=${plugin}"
                   -DEXPECT_RC=2 "-DEXPECT_REGEX=${regex}" "-DREJECT_REGEX=(FAIL|PASS|SKIP)  "
                   -P ${abi_check_dir}/expect.cmake
           WORKING_DIRECTORY ${abi_check_wd})
endfunction()
pmd_abi_check_usage_only(abi_check_usage_missing_plugin
  "^pmd-abi-check: cannot read plugin file /nonexistent/plugin.so: No such file or directory\n$"
  /nonexistent/plugin.so)
pmd_abi_check_usage_only(abi_check_usage_plugin_is_dir "is not a regular file" ${abi_check_dir})
pmd_abi_check_usage_only(abi_check_usage_plugin_not_elf "is not an ELF file"
  ${abi_check_dir}/expect.cmake)
# --in-process: one check, no fork; needs exactly one --only name.
pmd_abi_check_expect(abi_check_usage_in_process_needs_only 2 "exactly one check" --in-process x.so)
pmd_abi_check_expect(abi_check_usage_in_process_one_only 2 "exactly one check"
                     --in-process --only load,exports x.so)
pmd_abi_check_expect(abi_check_in_process_example 0
                     "^PASS  struct-size  \\[rule [^\n]*\n1 passed, 0 failed, 0 skipped\n$"
                     --in-process --only struct-size $<TARGET_FILE:example>)
pmd_abi_check_expect(abi_check_in_process_broken 1 "FAIL  lifecycle  \\[rule "
                     --in-process --only lifecycle $<TARGET_FILE:broken_lifecycle>)
# --config: a config that pulls pools on every tick exercises the guarded
# records; --json: one document with the figures.
pmd_abi_check_expect(abi_check_example_config_json 0 "\"result\": \"PASS\""
                     --json --only struct-size,host-thread
                     --config ${abi_check_dir}/testdata/example_every_tick.json
                     $<TARGET_FILE:example>)

# The checker itself is clean under valgrind, children included (not with
# sanitizers: they and valgrind exclude each other).
find_program(PMD_VALGRIND valgrind)
if(PMD_VALGRIND AND NOT PMD_SANITIZE)
  add_test(NAME abi_check_example_valgrind
           COMMAND ${PMD_VALGRIND} --error-exitcode=99 --leak-check=full
                   --errors-for-leak-kinds=definite --trace-children=yes --keep-debuginfo=yes
                   --quiet $<TARGET_FILE:pmd-abi-check> --valgrind-safe $<TARGET_FILE:example>
           WORKING_DIRECTORY ${abi_check_wd})
  set_tests_properties(abi_check_example_valgrind PROPERTIES TIMEOUT 300)
endif()

# plugin.abi.md section 13's valgrind command, run as written (the checker
# notices valgrind itself; no --valgrind-safe) on the project's plugins.
# About 6 s for example.so and 20 s for node_registration.so on an idle
# machine; RUN_SERIAL because valgrind and the load checks want the cores.
if(PMD_VALGRIND AND NOT PMD_SANITIZE)
  add_test(NAME abi_check_doc_valgrind_command
           COMMAND sh ${abi_check_dir}/doc_valgrind.sh ${PROJECT_SOURCE_DIR}/plugin.abi.md
                   $<TARGET_FILE:pmd-abi-check> $<TARGET_FILE:example>
                   $<TARGET_FILE:node_registration>
           WORKING_DIRECTORY ${abi_check_wd})
  set_tests_properties(abi_check_doc_valgrind_command PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE)
endif()
