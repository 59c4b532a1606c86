/// @file
/// fiberbridge/fiberbridge.hpp — the umbrella header: every public header except the two Asio ones.
///
/// @code
/// #include <fiberbridge/fiberbridge.hpp>
///
/// namespace fb = fiberbridge;
///
/// int main() {
///   int n = fb::async_to_sync([] { return fb::sync_to_async([] { return 41; })() + 1; })();
///   return n == 42 ? 0 : 1;
/// }
/// @endcode
///
/// Two public headers are not included here because they pull in Asio (many <boost/asio/...>
/// headers, slow to compile); include them yourself where you use them:
///  - <fiberbridge/asio.hpp>: the `use_fiber` completion token, Asio operations on fibers;
///  - <fiberbridge/coro.hpp>: fiberbridge::coro, the two bridges for boost::asio::awaitable.
///
/// Compiled from examples/headers/fiberbridge.cpp.
#pragma once

#include "fiberbridge/async_to_sync.hpp"
#include "fiberbridge/context.hpp"
#include "fiberbridge/errors.hpp"
#include "fiberbridge/executor.hpp"
#include "fiberbridge/runtime.hpp"
#include "fiberbridge/sync_to_async.hpp"
#include "fiberbridge/task.hpp"
#include "fiberbridge/thread_sensitive.hpp"
#include "fiberbridge/traits.hpp"

/// @namespace fiberbridge
/// fiberbridge — bridges between blocking code and fiber code, the way Python's asgiref bridges
/// sync and async code: sync_to_async, async_to_sync, Runtime, Task, context variables.

/// @namespace fiberbridge::coro
/// fiberbridge::coro — the same two bridges for C++20 coroutines on Asio (<fiberbridge/coro.hpp>).
