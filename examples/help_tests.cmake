# Included at the end of examples/CMakeLists.txt. Every example program answers --help and -h with
# its usage on stdout and exit status 0, and an unknown option with the usage on stderr and exit
# status 2 (CTest label "example": example.<program>.help, .h, .unknown_option).
if(NOT FIBERBRIDGE_BUILD_TESTS)
  return()
endif()
foreach(program hello_bridge demo find_blocking kv_service)
  if(NOT TARGET ${program})
    continue()
  endif()
  add_test(NAME example.${program}.help
           COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:${program}> -DARG=--help
                   -P ${CMAKE_CURRENT_LIST_DIR}/expect_usage.cmake)
  add_test(NAME example.${program}.h
           COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:${program}> -DARG=-h
                   -P ${CMAKE_CURRENT_LIST_DIR}/expect_usage.cmake)
  add_test(NAME example.${program}.unknown_option
           COMMAND ${CMAKE_COMMAND} -DEXIT=2 -DMESSAGE=usage:
                   -P ${CMAKE_CURRENT_LIST_DIR}/expect_failure.cmake $<TARGET_FILE:${program}> --no-such-option)
  set_tests_properties(example.${program}.help example.${program}.h example.${program}.unknown_option
                       PROPERTIES LABELS example TIMEOUT 60)
endforeach()
