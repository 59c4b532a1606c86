// asio/io_service.hpp — the I/O service a Runtime owns (see io_service.cpp), for src/coro/.
//
// Owns: the runtime's io_context, its reactor thread, and the registry of coroutine-bridge
// work in flight on it (coroutines started by coro::async_to_sync, coro::sync_to_async calls
// waiting for a body). Invariants: registered work is cancelled on the reactor thread before
// the io_context stops; after that (`closed`) nothing new is registered, so a detached sync
// body never posts into a destroyed io_context.
#pragma once

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <memory>

namespace fiberbridge {
class Runtime;
}

namespace fiberbridge::detail {

// Work that must be cancelled before the io_context goes away. `cancel_on_reactor` runs on
// the reactor thread.
class IoCancellable {
 public:
  virtual ~IoCancellable() = default;
  virtual void cancel_on_reactor() noexcept = 0;
  // Roots are waited for (bounded) before the io_context stops; other entries are not.
  virtual bool is_root() const noexcept { return false; }
};

class IoService;

// The runtime's I/O service (created on first use).
std::shared_ptr<IoService> io_service_of(Runtime& rt);
// The I/O service whose reactor thread this is, or nullptr (a plain thread, a fiber, a
// thread of some other io_context).
IoService* reactor_io_service() noexcept;
// use_fiber completions run by `rt`'s reactor so far (0 if it has none yet).
std::uint64_t io_completions(Runtime& rt);

boost::asio::io_context& io_context_of(IoService& s) noexcept;
Runtime* io_runtime(IoService& s) noexcept;
// Registers `w`; false once the service is closing (the caller treats it as cancelled).
bool io_register(IoService& s, const std::shared_ptr<IoCancellable>& w);
void io_unregister(IoService& s, const IoCancellable* w);

}  // namespace fiberbridge::detail
