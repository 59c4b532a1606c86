# Asio on fibers (use_fiber), I/O with the scheduler threads driving the reactor (fiber_io_*_test),
# the coroutine variant (fiberbridge/coro.hpp), the typed suite that
# runs the same scenarios against both, and the kv_service end-to-end test.
# Included from tests/CMakeLists.txt (needs GTest and GoogleTest loaded, fiberbridge_sanitize()).
foreach(name asio_test coro_test variants_test fiber_io_load_test fiber_io_shutdown_test
         fiber_io_wake_test)
  add_executable(${name} ${CMAKE_CURRENT_LIST_DIR}/${name}.cpp)
  target_link_libraries(${name} PRIVATE fiberbridge::fiberbridge GTest::gtest_main)
  target_compile_options(${name} PRIVATE -Wall -Wextra)
  fiberbridge_sanitize(${name})
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 120)
endforeach()

# End to end: kv_service on port 0, both variants, PUT/GET/DELETE/404 over a raw socket.
if(FIBERBRIDGE_BUILD_EXAMPLES OR TARGET kv_service)
  add_test(NAME example.kv_service COMMAND ${CMAKE_CURRENT_LIST_DIR}/kv_service_test.sh $<TARGET_FILE:kv_service>)
  set_tests_properties(example.kv_service PROPERTIES LABELS example TIMEOUT 120)
endif()
