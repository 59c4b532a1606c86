# coro_bench — the coroutine variant's P1/P3/P4 round trips next to the fiber variant's, an Asio
# operation on fibers vs coroutines, and memory per suspended call of both (fresh child processes).
# Included from bench/CMakeLists.txt (needs find_package(benchmark)).
add_executable(coro_bench ${CMAKE_CURRENT_LIST_DIR}/coro_bench.cpp)
target_link_libraries(coro_bench PRIVATE fiberbridge::fiberbridge benchmark::benchmark)
target_compile_options(coro_bench PRIVATE -Wall -Wextra)
