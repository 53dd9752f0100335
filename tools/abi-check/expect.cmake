# expect.cmake - runs pmd-abi-check and asserts its exit status and output.
#   cmake -DCHECKER=... "-DARGS=arg|arg" -DEXPECT_RC=1 "-DEXPECT_REGEX=..." -P expect.cmake
# For a broken plugin: ARGS "--only;CHECK;PLUGIN", EXPECT_RC 1 and a regex for
# "FAIL  CHECK  [rule", so the right check failed, not a usage error or a crash.
# REJECT_REGEX (optional): the output must not match it.
string(REPLACE "|" ";" args "${ARGS}")
execute_process(COMMAND ${CHECKER} ${args}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL EXPECT_RC)
  message(FATAL_ERROR "expected exit status ${EXPECT_RC}, got ${rc}")
endif()
if(DEFINED EXPECT_REGEX AND NOT "${out}${err}" MATCHES "${EXPECT_REGEX}")
  message(FATAL_ERROR "output does not match: ${EXPECT_REGEX}")
endif()
if(DEFINED REJECT_REGEX AND "${out}${err}" MATCHES "${REJECT_REGEX}")
  message(FATAL_ERROR "output matches what it must not: ${REJECT_REGEX}")
endif()
