// kv_service — an HTTP key-value service on Boost.Beast, in two variants that share everything
// but the way handlers wait:
//   --variant fiber : one fiber per connection, straight-line code, Asio through fb::use_fiber,
//                     storage through fb::sync_to_async;
//   --variant coro  : one C++20 coroutine per connection on the runtime's reactor, storage
//                     through co_await fb::coro::sync_to_async.
// Storage is SQLite (one connection, owned by the process-wide sync thread: every store call
// is a thread-sensitive sync_to_async from a task without an async_to_sync frame, rule 5).
//
//   kv_service [--variant fiber|coro] [--port N] [--db PATH|:memory:] [--threads N]
//   PUT /kv/KEY (body = value) -> 204 | GET /kv/KEY -> 200 value | 404
//   DELETE /kv/KEY -> 204 | 404   | GET /health -> 200 "ok"
//   GET /metrics -> the runtime's metrics, Prometheus text format (Runtime::metrics)
// A fiber that blocks its scheduler thread for 100 ms is logged on stderr (slow-fiber report).
// The first line on stdout is `listening on 127.0.0.1:PORT`. SIGINT/SIGTERM stop it cleanly:
// no new connections, open ones are cancelled, queued store calls finish, the database closes.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/fiber/mutex.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "fiberbridge/asio.hpp"
#include "fiberbridge/coro.hpp"
#include "fiberbridge/fiberbridge.hpp"
#include "config.hpp"
#include "metrics.hpp"
#include "store.hpp"

namespace fb = fiberbridge;
namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

namespace {

constexpr std::size_t kMaxBody = 1 << 20;
constexpr std::size_t kMaxKey = 512;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// ---- what a request asks for: shared by both variants ----

enum class Op { health, get, put, del, reply };

struct Plan {
  Op op = Op::reply;
  std::string key;
  Response reply;  // for Op::reply
};

Response text(const Request& req, http::status s, std::string body) {
  Response r{s, req.version()};
  r.set(http::field::server, "fiberbridge-kv");
  r.set(http::field::content_type, "text/plain");
  r.keep_alive(req.keep_alive());
  r.body() = std::move(body);
  r.prepare_payload();
  return r;
}

std::optional<std::string> decode_key(std::string_view raw) {
  auto hex = [](char h) -> int {
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c == '?' || c == '#') break;
    if (c == '%') {
      if (i + 2 >= raw.size()) return std::nullopt;  // truncated escape
      const int hi = hex(raw[i + 1]), lo = hex(raw[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    out.push_back(c);
  }
  if (out.empty() || out.size() > kMaxKey || out.find('/') != std::string::npos) return std::nullopt;
  return out;
}

const fb::Runtime* g_runtime = nullptr;  // for GET /metrics; set once in main

Plan plan(const Request& req) {
  Plan p;
  const std::string_view target(req.target().data(), req.target().size());
  if (target == "/metrics" && req.method() == http::verb::get) {
    if (!kv::kHasPrometheus || g_runtime == nullptr) {
      p.reply = text(req, http::status::not_implemented, "built without prometheus-cpp\n");
      return p;
    }
    p.reply = text(req, http::status::ok, kv::prometheus_text(*g_runtime));
    p.reply.set(http::field::content_type, "text/plain; version=0.0.4");
    return p;
  }
  if (target == "/health") {
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      p.reply = text(req, http::status::method_not_allowed, "use GET\n");
      p.reply.set(http::field::allow, "GET, HEAD");
      return p;
    }
    p.op = Op::health;
    return p;
  }
  constexpr std::string_view prefix = "/kv/";
  if (target.substr(0, prefix.size()) != prefix) {
    p.reply = text(req, http::status::not_found, "unknown path; use /kv/KEY or /health\n");
    return p;
  }
  auto key = decode_key(target.substr(prefix.size()));
  if (!key) {
    p.reply = text(req, http::status::bad_request, "bad key: 1-512 bytes, no '/', valid %-escapes\n");
    return p;
  }
  p.key = std::move(*key);
  switch (req.method()) {
    case http::verb::get: p.op = Op::get; break;
    case http::verb::put: p.op = Op::put; break;
    case http::verb::delete_: p.op = Op::del; break;
    default:
      p.reply = text(req, http::status::method_not_allowed, "use GET, PUT or DELETE\n");
      p.reply.set(http::field::allow, "GET, PUT, DELETE");
  }
  return p;
}

// The outcome of a store call, turned into the response.
struct Outcome {
  std::optional<std::string> value;  // get
  bool found = true;                 // get / del
  std::string error;                 // non-empty: 500
};

Response respond(const Request& req, const Plan& p, const Outcome& o) {
  if (!o.error.empty()) return text(req, http::status::internal_server_error, "storage error\n");
  switch (p.op) {
    case Op::health: return text(req, http::status::ok, "ok\n");
    case Op::get:
      if (!o.value) return text(req, http::status::not_found, "no such key\n");
      return text(req, http::status::ok, *o.value);
    case Op::put: return text(req, http::status::no_content, "");
    case Op::del: return o.found ? text(req, http::status::no_content, "") : text(req, http::status::not_found, "no such key\n");
    case Op::reply: break;
  }
  return p.reply;
}

// The blocking part: runs on the sync thread.
Outcome execute(kv::Store& store, Op op, const std::string& key, const std::string& body) {
  Outcome o;
  try {
    switch (op) {
      case Op::get: o.value = store.get(key); break;
      case Op::put: store.put(key, body); break;
      case Op::del: o.found = store.erase(key); break;
      default: break;
    }
  } catch (const std::exception& e) {
    o.error = e.what();
    std::fprintf(stderr, "kv_service: %s\n", e.what());
  }
  return o;
}

// Maps a read error to a response (nullopt: the peer left, just close).
std::optional<Response> read_error_reply(const boost::system::error_code& ec) {
  if (ec == http::error::end_of_stream || ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == asio::error::operation_aborted)
    return std::nullopt;
  Request dummy;
  dummy.version(11);
  dummy.keep_alive(false);
  if (ec == http::error::body_limit) return text(dummy, http::status::payload_too_large, "body too large\n");
  if (ec.category() == boost::beast::http::make_error_code(http::error::bad_target).category())
    return text(dummy, http::status::bad_request, "malformed request\n");
  return std::nullopt;
}

void announce(const tcp::acceptor& a) {
  std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(a.local_endpoint().port()));
  std::fflush(stdout);
}

// ---- the fiber variant: straight-line code ----

void fiber_session(tcp::socket sock, kv::Store& store) {
  boost::beast::flat_buffer buf;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    boost::system::error_code ec;
    http::async_read(sock, buf, parser, fb::use_fiber[ec]);
    if (ec) {
      if (auto reply = read_error_reply(ec)) http::async_write(sock, *reply, fb::use_fiber[ec]);
      return;
    }
    const Request& req = parser.get();
    Plan p = plan(req);
    Outcome o;
    if (p.op != Op::reply && p.op != Op::health) {
      o = fb::sync_to_async(execute)(std::ref(store), p.op, p.key, req.body());  // on the sync thread
    }
    Response res = respond(req, p, o);
    http::async_write(sock, res, fb::use_fiber[ec]);
    if (ec || !res.keep_alive()) return;
  }
}

void run_fiber(fb::Runtime& rt, tcp::acceptor& acceptor, kv::Store& store) {
  auto server = rt.spawn([&] {
    asio::signal_set signals(fb::io_executor(), SIGINT, SIGTERM);
    boost::fibers::mutex m;
    std::list<fb::Task<void>> sessions;
    auto accept_loop = fb::spawn([&] {
      for (;;) {
        boost::system::error_code ec;
        tcp::socket s = acceptor.async_accept(fb::use_fiber[ec]);
        if (ec) {
          if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
          continue;  // e.g. too many open files: try again
        }
        s.set_option(tcp::no_delay(true), ec);
        std::lock_guard g(m);
        for (auto it = sessions.begin(); it != sessions.end();) it = it->ready() ? sessions.erase(it) : std::next(it);
        sessions.push_back(fb::spawn([&store](tcp::socket s) { fiber_session(std::move(s), store); }, std::move(s)));
      }
    });
    signals.async_wait(fb::use_fiber);  // SIGINT / SIGTERM
    accept_loop.request_stop();         // cancels the pending accept
    accept_loop.wait();
    std::lock_guard g(m);
    for (auto& s : sessions) s.request_stop();  // cancels pending reads/writes
    for (auto& s : sessions) s.wait();
  });
  server.get();
}

// ---- the coroutine variant ----

asio::awaitable<void> coro_session(tcp::socket sock, kv::Store& store) {
  boost::beast::flat_buffer buf;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    auto [ec, n] = co_await http::async_read(sock, buf, parser, asio::as_tuple(asio::use_awaitable));
    (void)n;
    if (ec) {
      if (auto reply = read_error_reply(ec)) co_await http::async_write(sock, *reply, asio::as_tuple(asio::use_awaitable));
      co_return;
    }
    const Request& req = parser.get();
    Plan p = plan(req);
    Outcome o;
    if (p.op != Op::reply && p.op != Op::health) {
      auto call = fb::coro::sync_to_async(execute);  // named first (g++ 12, see coro.hpp)
      o = co_await call(std::ref(store), p.op, p.key, req.body());
    }
    Response res = respond(req, p, o);
    auto [wec, wn] = co_await http::async_write(sock, res, asio::as_tuple(asio::use_awaitable));
    (void)wn;
    if (wec || !res.keep_alive()) co_return;
  }
}

void run_coro(fb::Runtime& rt, tcp::acceptor& acceptor, kv::Store& store) {
  auto io = rt.io_executor();
  auto server = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // All of this runs on the reactor thread: no locks needed.
        std::list<asio::cancellation_signal> sessions;  // one stop signal per live session
        asio::steady_timer all_done(io, asio::steady_timer::time_point::max());
        bool stopping = false;
        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int) {
          if (ec) return;
          stopping = true;
          boost::system::error_code ignored;
          acceptor.close(ignored);  // ends the accept loop
          for (auto& s : sessions) s.emit(asio::cancellation_type::terminal);
        });
        for (;;) {
          auto [ec, s] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
          if (ec) {
            if (!acceptor.is_open()) break;
            continue;
          }
          s.set_option(tcp::no_delay(true), ec);
          auto it = sessions.emplace(sessions.end());
          asio::co_spawn(io, coro_session(std::move(s), store),
                         asio::bind_cancellation_slot(it->slot(), [&, it](std::exception_ptr) {
                           sessions.erase(it);
                           if (stopping && sessions.empty()) all_done.cancel();
                         }));
        }
        if (!sessions.empty()) {
          boost::system::error_code ignored;
          co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
        }
        signals.cancel();
      },
      asio::use_future);
  server.get();
}

}  // namespace

int main(int argc, char** argv) {
  const kv::Config cfg = kv::parse(argc, argv);
  fb::RuntimeOptions options{.threads = cfg.threads, .name = "kv"};
  options.on_slow_fiber = [](const fb::SlowFiberReport& r) {  // a blocking call slipped onto a fiber
    std::fprintf(stderr, "kv_service: slow fiber\n%s", r.to_string().c_str());
  };
  fb::Runtime rt{options};
  g_runtime = &rt;
  kv::Store store;
  try {
    // The connection is opened (and later closed) on the sync thread that owns it.
    auto open = rt.spawn([&] { fb::sync_to_async([&] { store.open(cfg.db); })(); });
    open.get();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kv_service: %s\n", e.what());
    return 1;
  }
  tcp::acceptor acceptor(rt.io_executor());
  try {
    const tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), cfg.port);
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(asio::socket_base::max_listen_connections);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kv_service: cannot listen on 127.0.0.1:%u: %s\n", static_cast<unsigned>(cfg.port), e.what());
    return 1;
  }
  announce(acceptor);
  if (cfg.variant == "fiber") {
    run_fiber(rt, acceptor, store);
  } else {
    run_coro(rt, acceptor, store);
  }
  // Queued store calls finish first (the sync thread runs them in order), then the close.
  auto close = rt.spawn([&] { fb::sync_to_async([&] { store.close(); })(); });
  close.get();
  std::fprintf(stderr, "kv_service: stopped\n");
  return 0;
}
