# cmake -DPROGRAM=<path> -DARG=<--help|-h> -P expect_usage.cmake
# Passes only if `PROGRAM ARG` exits with status 0 and prints its usage ("usage", in any case) on
# stdout (a crash or a hang does not count).
execute_process(COMMAND ${PROGRAM} ${ARG} RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 60)
string(TOLOWER "${out}" lower)
string(FIND "${lower}" "usage" at)
if(NOT status STREQUAL "0" OR at EQUAL -1)
  message(FATAL_ERROR "expected exit status 0 and the usage on stdout from '${PROGRAM} ${ARG}'; got status "
                      "'${status}', stdout:\n${out}\nstderr:\n${err}")
endif()
message(STATUS "exit status 0 and the usage, as expected:\n${out}")
