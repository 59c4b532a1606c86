// examples/headers/sync_to_async.cpp — the example of <fiberbridge/sync_to_async.hpp>: blocking
// calls made from a fiber, thread-sensitive and on the blocking pool. The code between the
// [example] marks is the header's example, word for word (ctest docs.header_examples checks it).
#include <fiberbridge/fiberbridge.hpp>

#include <functional>
#include <string>

namespace fb = fiberbridge;

namespace {
int query_db(const std::string& sql) { return sql == "SELECT 1" ? 1 : 0; }
std::size_t slow_hash(const std::string& data) { return std::hash<std::string>{}(data); }
}  // namespace

int main() {
  const bool ok = fb::async_to_sync([] {
    const std::string data = "payload";
    // [example]
    int rows = fb::sync_to_async(query_db)("SELECT 1");  // thread-sensitive (default)
    auto offload = fb::sync_to_async(fb::SyncToAsyncOptions{.thread_sensitive = false});
    auto hash = offload(slow_hash)(data);  // on the blocking pool
    // [example]
    return rows == 1 && hash == slow_hash(data);
  })();
  return ok ? 0 : 1;
}
