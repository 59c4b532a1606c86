// examples/demo/request.hpp — one request as straight-line fiber code, doing its blocking work
// through the bridges (steps 1-5 of main.cpp's overview).
#pragma once

#include <fiberbridge/fiberbridge.hpp>

#include <boost/fiber/operations.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "database.hpp"
#include "thread_log.hpp"

namespace fb = fiberbridge;
using namespace std::chrono_literals;

// slow_checksum — blocking work that needs no particular thread (think: a legacy library call).
inline std::uint32_t slow_checksum(const std::string& data) {
  threads.note("blocking pool (checksums)");
  std::this_thread::sleep_for(1ms);
  std::uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : data) h = (h ^ c) * 16777619u;
  return h;
}

inline std::atomic<int> in_flight{0}, max_in_flight{0};

// handle_request — one request, as straight-line fiber code. Returns "" when the request got its
// own data back, else what went wrong.
inline std::string handle_request(Database& db, int request) {
  threads.note("request fibers");
  const int now = ++in_flight;
  for (int seen = max_in_flight; now > seen && !max_in_flight.compare_exchange_weak(seen, now);) {
  }

  // 1. Wait for a simulated upstream: only this fiber sleeps.
  boost::this_fiber::sleep_for(2ms);
  const std::string payload = "request " + std::to_string(request) + " says hello " +
                              std::string(static_cast<std::size_t>(request % 7 + 1), '!');

  // 2. Blocking work that may run anywhere: the blocking pool.
  const std::uint32_t sum = fb::sync_to_async(slow_checksum, {.thread_sensitive = false})(payload);

  // 3. Thread-sensitive (the default): runs on the sync thread, which owns the connection.
  const long long row = fb::sync_to_async([&db](int r, const std::string& p) {
    return db.insert_request(r, p);
  })(request, payload);

  // 4. Sync code that calls back into fiber code.
  struct Readback {
    std::string payload;
    long long audit_rows = 0;
  };
  const Readback back = fb::sync_to_async([&db](long long row, int request, std::uint32_t sum) {
    Readback b;
    b.payload = db.payload_of(row);  // on the sync thread
    b.audit_rows = fb::async_to_sync([&db](int request, std::uint32_t sum) {
      // A fiber again, on the request's runtime, while the sync thread waits for it.
      threads.note("callback fibers (async_to_sync)");
      boost::this_fiber::yield();
      // Rule 1: these go back to the thread parked in async_to_sync, the connection's owner.
      fb::sync_to_async([&db](int r, std::uint32_t s) { db.insert_audit(r, s); })(request, sum);
      return fb::sync_to_async([&db](int r) { return db.audit_rows(r); })(request);
    })(request, sum);
    return b;
  })(row, request, sum);

  // 5. Did this request get its own data back?
  --in_flight;
  threads.note("request fibers");
  if (back.payload != payload) return "read back '" + back.payload + "' instead of '" + payload + "'";
  if (back.audit_rows != 1) return "found " + std::to_string(back.audit_rows) + " audit rows instead of 1";
  if (fb::sync_to_async(slow_checksum, {.thread_sensitive = false})(back.payload) != sum)
    return "the checksum changed";
  return "";
}
