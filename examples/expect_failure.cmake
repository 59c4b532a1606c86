# cmake -DEXIT=<status> -DMESSAGE=<text> -P expect_failure.cmake <program> [args...]
# Runs the program and passes only if it exits with EXIT and prints MESSAGE on stderr
# (a crash or a hang does not count as the expected failure).
set(command)
set(seen_script OFF)
math(EXPR last "${CMAKE_ARGC} - 1")
foreach(i RANGE 1 ${last})
  if(seen_script)
    list(APPEND command "${CMAKE_ARGV${i}}")
  elseif(CMAKE_ARGV${i} STREQUAL "-P")
    math(EXPR next "${i} + 1")
    set(skip ${next})
  endif()
  if(DEFINED skip AND i EQUAL skip)
    set(seen_script ON)
  endif()
endforeach()
execute_process(COMMAND ${command} RESULT_VARIABLE status ERROR_VARIABLE err OUTPUT_VARIABLE out
                TIMEOUT 60)
string(FIND "${err}" "${MESSAGE}" at)
if(NOT status STREQUAL "${EXIT}" OR at EQUAL -1)
  message(FATAL_ERROR "expected exit status ${EXIT} and '${MESSAGE}' on stderr; got status '${status}', "
                      "stderr:\n${err}")
endif()
message(STATUS "exit status ${status} as expected: ${err}")
