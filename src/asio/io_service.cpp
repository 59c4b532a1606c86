// asio/io_service.cpp — the I/O context a Runtime owns, and Runtime::io_executor().
//
// Owns: one boost::asio::io_context per runtime, run by a dedicated reactor thread (kept
// alive by a work guard). Completion handlers run on that thread; `use_fiber` only wakes the
// waiting fiber from there, so no fiber code runs on the reactor thread.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <pthread.h>

#include <memory>
#include <thread>

#include "runtime_impl.hpp"

namespace fiberbridge {

namespace {

class IoService {
 public:
  IoService() : guard_(boost::asio::make_work_guard(io_)), thread_([this] {
                  ::pthread_setname_np(::pthread_self(), "fb-io");
                  io_.run();
                }) {}
  ~IoService() {
    guard_.reset();
    io_.stop();
    thread_.join();
  }
  boost::asio::io_context& context() noexcept { return io_; }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  std::thread thread_;
};

std::shared_ptr<void> make_io_service(Runtime&) { return std::make_shared<IoService>(); }

}  // namespace

boost::asio::any_io_executor Runtime::io_executor() {
  auto service = std::static_pointer_cast<IoService>(detail::RuntimeAccess::io_service(*this, &make_io_service));
  return service->context().get_executor();
}

}  // namespace fiberbridge
