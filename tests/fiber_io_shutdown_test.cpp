// fiber_io_shutdown_test — fibers blocked in I/O at the end (issue 12): ~Runtime wakes fibers
// blocked in socket reads and timers on every scheduler thread, and a stop from a fiber on the
// other thread cancels a socket read (use_fiber, use_fiber[ec], a composed async_read).
// Every wait has a deadline (fixtures.hpp: a hang prints which wait and exits with code 3);
// nothing sleeps to synchronise; timing bounds are generous (a loaded 2-vCPU CI box, TSan, ASan).
//
#include "fiber_io.hpp"

namespace {

using namespace fbtest;
using namespace fbtest_io;

// ---------------------------------------------------------------------------------------------
// 4. ~Runtime with fibers blocked in I/O on every scheduler thread.

// What a fiber blocked in an operation saw when it woke.
enum class Outcome { kCancelledError, kOperationAborted, kCompleted, kOtherError };

std::string to_string(Outcome o) {
  switch (o) {
    case Outcome::kCancelledError: return "CancelledError";
    case Outcome::kOperationAborted: return "operation_aborted";
    case Outcome::kCompleted: return "completed";
    case Outcome::kOtherError: return "another error";
  }
  return "?";
}

// Blocks in a read on `s` that nobody answers (use_fiber, or use_fiber[ec] when `with_ec`).
Outcome blocked_read(tcp::socket& s, bool with_ec) {
  char buf[16];
  try {
    if (with_ec) {
      boost::system::error_code ec;
      (void)s.async_read_some(asio::buffer(buf), fb::use_fiber[ec]);
      return ec == asio::error::operation_aborted ? Outcome::kOperationAborted
             : ec                                 ? Outcome::kOtherError
                                                  : Outcome::kCompleted;
    }
    (void)s.async_read_some(asio::buffer(buf), fb::use_fiber);
    return Outcome::kCompleted;
  } catch (const fb::CancelledError&) {
    return Outcome::kCancelledError;
  } catch (...) {
    return Outcome::kOtherError;
  }
}

// Blocks on a timer that would fire in an hour.
Outcome blocked_timer() {
  try {
    asio::steady_timer timer(fb::io_executor(), std::chrono::hours(1));
    timer.async_wait(fb::use_fiber);
    return Outcome::kCompleted;
  } catch (const fb::CancelledError&) {
    return Outcome::kCancelledError;
  } catch (...) {
    return Outcome::kOtherError;
  }
}

// Extends AsioTest.RuntimeDestructionWakesFibersInPendingOperations (one thread, one timer) to
// both scheduler threads of a 2-thread runtime and to socket reads: on each thread, a read with
// use_fiber, a read with use_fiber[ec] and a 1 h timer. ~Runtime (on a helper thread) must
// return before a deadline, and each fiber must have woken with the documented result.
TEST(FiberIoShutdown, RuntimeDestructionWakesFibersBlockedInIoOnEverySchedulerThread) {
  asio::io_context plain;  // the peers outlive the runtime (nobody ever writes to them)
  std::vector<tcp::socket> peers;
  auto rt = std::make_unique<fb::Runtime>(fb::RuntimeOptions{.threads = 2, .slow_fiber_threshold = {}});

  struct Blocked {
    fb::Task<Outcome> task;
    std::thread::id thread;  // where it started its operation
    Outcome expected;
    std::string what;
  };
  std::vector<std::unique_ptr<Blocked>> blocked;
  // Spawns the three blocked fibers and waits until each is about to block; the fiber end of
  // each socket moves into its fiber (destroyed there, before the runtime).
  auto block_three = [&] {
    for (int kind = 0; kind < 3; ++kind) {
      auto b = std::make_unique<Blocked>();
      auto ready = std::make_shared<ThreadEvent>();
      Blocked* self = b.get();
      if (kind == 2) {
        b->expected = Outcome::kCancelledError;
        b->what = "1 h timer, use_fiber";
        b->task = rt->spawn({.name = "blocked-timer"}, [self, ready] {
          self->thread = here();
          ready->set();
          return blocked_timer();
        });
      } else {
        LoopbackPair pair = connect_loopback(rt->io_executor(), plain);
        peers.push_back(std::move(pair.peer));
        const bool with_ec = kind == 1;
        b->expected = with_ec ? Outcome::kOperationAborted : Outcome::kCancelledError;
        b->what = with_ec ? "socket read, use_fiber[ec]" : "socket read, use_fiber";
        b->task = rt->spawn({.name = "blocked-read"}, [self, ready, with_ec](tcp::socket s) {
          self->thread = here();
          ready->set();
          return blocked_read(s, with_ec);
        }, std::move(pair.fiber_end));
      }
      ready->wait("a fiber about to block in I/O");
      blocked.push_back(std::move(b));
    }
  };

  // Thread A held by a hog: the first three block on thread B. Then B is held and the next
  // three block on thread A.
  Hog hog_a, hog_b;
  hog_a.start(*rt);
  block_three();
  hog_b.start(*rt);
  hog_a.finish();
  block_three();
  hog_b.finish();

  ASSERT_NE(hog_a.thread, hog_b.thread);
  std::set<std::thread::id> threads;
  for (std::size_t i = 0; i < blocked.size(); ++i) {
    threads.insert(blocked[i]->thread);
    EXPECT_EQ(blocked[i]->thread, i < 3 ? hog_b.thread : hog_a.thread) << blocked[i]->what << " was not placed";
  }
  EXPECT_EQ(threads.size(), 2u) << "the blocked fibers do not cover both scheduler threads";

  auto destroyed = std::async(std::launch::async, [r = std::move(rt)]() mutable { r.reset(); });
  future_within(destroyed, "~Runtime with fibers blocked in I/O on both threads");
  for (auto& b : blocked) {
    ASSERT_TRUE(b->task.ready()) << b->what << ": ~Runtime returned before the fiber finished";
    EXPECT_EQ(to_string(b->task.get()), to_string(b->expected)) << b->what;
  }
}

// ---------------------------------------------------------------------------------------------
// 5. use_fiber cancellation across scheduler threads.
//
// asio_test.cpp covers a stop requested from the test thread: a timer (use_fiber and
// use_fiber[ec]), a socket read_some (use_fiber), a stop before the call, an uncancellable
// operation, ~Runtime (one thread, a timer). Missing, added here: the stop requested by a fiber
// on the *other* scheduler thread of a 2-thread runtime, for socket reads with use_fiber,
// use_fiber[ec] and a composed async_read; the reader's thread is held by a hog while the stop
// arrives (its wake-up is remote), and afterwards the socket and the runtime still serve I/O.

enum class ReadKind { kReadSomeThrows, kReadSomeEc, kComposedReadThrows };

std::string read_kind_name(const ::testing::TestParamInfo<ReadKind>& info) {
  switch (info.param) {
    case ReadKind::kReadSomeThrows: return "ReadSome_UseFiber";
    case ReadKind::kReadSomeEc: return "ReadSome_UseFiberEc";
    case ReadKind::kComposedReadThrows: return "ComposedAsyncRead_UseFiber";
  }
  return "unknown";
}

class FiberIoCancel : public ::testing::TestWithParam<ReadKind> {
 protected:
  fb::Runtime rt{fb::RuntimeOptions{.threads = 2, .slow_fiber_threshold = {}}};
};
INSTANTIATE_TEST_SUITE_P(Kinds, FiberIoCancel,
                         ::testing::Values(ReadKind::kReadSomeThrows, ReadKind::kReadSomeEc,
                                           ReadKind::kComposedReadThrows),
                         read_kind_name);

TEST_P(FiberIoCancel, StopFromAFiberOnTheOtherThreadCancelsASocketRead) {
  asio::io_context plain;
  LoopbackPair pair = connect_loopback(rt.io_executor(), plain);  // after rt: destroyed first
  const ReadKind kind = GetParam();

  // The reader blocks on thread B (A held), then B is held while a fiber on A stops it.
  Hog hog_a, hog_b;
  hog_a.start(rt);
  ThreadEvent reading;
  std::thread::id reader_thread;
  auto reader = rt.spawn({.name = "reader"}, [&] {
    reader_thread = here();
    reading.set();
    char buf[16];
    try {
      switch (kind) {
        case ReadKind::kReadSomeThrows:
          (void)pair.fiber_end.async_read_some(asio::buffer(buf), fb::use_fiber);
          return Outcome::kCompleted;
        case ReadKind::kReadSomeEc: {
          boost::system::error_code ec;
          (void)pair.fiber_end.async_read_some(asio::buffer(buf), fb::use_fiber[ec]);
          return ec == asio::error::operation_aborted ? Outcome::kOperationAborted
                 : ec                                 ? Outcome::kOtherError
                                                      : Outcome::kCompleted;
        }
        case ReadKind::kComposedReadThrows:
          (void)asio::async_read(pair.fiber_end, asio::buffer(buf), fb::use_fiber);
          return Outcome::kCompleted;
      }
    } catch (const fb::CancelledError&) {
      return Outcome::kCancelledError;
    } catch (...) {
      return Outcome::kOtherError;
    }
    return Outcome::kOtherError;
  });
  reading.wait("the reader to start");
  hog_b.start(rt);  // the reader's thread: held (the reader is suspended in its read)
  hog_a.finish();

  auto canceller = rt.spawn({.name = "canceller"}, [&] {
    const auto t = here();
    reader.request_stop();
    return t;
  });
  const std::thread::id canceller_thread = get_within(canceller, "the canceller");
  hog_b.finish();  // the reader's thread runs again: the reader wakes there
  const Outcome got = get_within(reader, "the cancelled reader");

  EXPECT_EQ(reader_thread, hog_b.thread) << "the reader was not placed on thread B";
  EXPECT_EQ(canceller_thread, hog_a.thread) << "the canceller was not placed on thread A";
  EXPECT_NE(reader_thread, canceller_thread);
  const Outcome expected = kind == ReadKind::kReadSomeEc ? Outcome::kOperationAborted : Outcome::kCancelledError;
  EXPECT_EQ(to_string(got), to_string(expected));

  // The socket and the reactor still work: a fresh fiber reads what the peer writes now.
  const std::string msg = "after the cancel";
  asio::write(pair.peer, asio::buffer(msg));
  auto again = rt.spawn([&] {
    std::string back(msg.size(), '\0');
    asio::async_read(pair.fiber_end, asio::buffer(back), fb::use_fiber);
    return back;
  });
  EXPECT_EQ(get_within(again, "a read on the socket after the cancelled one"), msg);
}


}  // namespace
