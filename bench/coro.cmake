# The coroutine variant next to the fiber variant (issue 7), each binary with both in one sweep:
#   coro_bench — P1/P3/P4 round trips of both variants, and memory per suspended call of both
#                (fresh child processes).
#   io_bench   — issue 12: one Asio `post` completion and a 64-byte loopback TCP ping-pong, fiber
#                (use_fiber) vs coroutine (use_awaitable) vs plain Asio, 1- and 2-thread runtimes.
# Included from bench/CMakeLists.txt (needs find_package(benchmark)).
foreach(claim IN ITEMS coro_bench io_bench)
  add_executable(${claim} ${CMAKE_CURRENT_LIST_DIR}/${claim}.cpp)
  target_link_libraries(${claim} PRIVATE fiberbridge::fiberbridge benchmark::benchmark)
  target_compile_options(${claim} PRIVATE -Wall -Wextra)
endforeach()
