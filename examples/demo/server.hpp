// examples/demo/server.hpp — serve(): every request as its own fiber against one database.
#pragma once

#include <fiberbridge/fiberbridge.hpp>

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "command_line.hpp"
#include "database.hpp"
#include "request.hpp"

namespace fb = fiberbridge;

struct Summary {
  int run = 0, ok = 0;
  std::vector<std::string> problems;
  long long written = 0, read = 0, request_rows = 0, total_rows = 0;
};

// serve — runs on a fiber: opens the database on the sync thread, runs every request as its own
// fiber, waits for them all (suspending only this fiber), and closes the database.
inline Summary serve(const Options& opt) {
  // Opened by a thread-sensitive body, so on the sync thread. If opening fails, the exception
  // crosses both bridges unchanged: out of this body into serve(), out of serve() into main().
  auto db = fb::sync_to_async([](const std::string& path) { return std::make_unique<Database>(path); })(opt.db);

  std::vector<fb::Task<std::string>> tasks;
  tasks.reserve(static_cast<std::size_t>(opt.requests));
  for (int r = 1; r <= opt.requests; ++r) tasks.push_back(fb::spawn(handle_request, std::ref(*db), r));

  Summary s;
  for (int r = 1; r <= opt.requests; ++r) {
    std::string problem;
    try {
      problem = tasks[static_cast<std::size_t>(r - 1)].get();
    } catch (const std::exception& e) {
      problem = std::string("failed: ") + e.what();
    }
    if (problem.empty()) ++s.ok;
    else s.problems.push_back("request " + std::to_string(r) + ": " + problem);
  }

  fb::sync_to_async([&db, &s] {  // read the totals and close, on the connection's thread
    s.run = db->run();
    s.written = db->rows_written();
    s.read = db->rows_read();
    s.request_rows = db->count("requests", true);
    s.total_rows = db->count("requests", false);
    db.reset();
  })();
  return s;
}
