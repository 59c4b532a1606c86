// kv_service/config.hpp — the command line: kv_service [--variant fiber|coro] [--port N]
// [--db PATH|:memory:] [--threads N]; --help prints the usage and exits 0, a bad argument says
// what is wrong and exits 2.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace kv {

struct Config {
  std::string variant = "fiber";
  unsigned short port = 8080;
  std::string db = ":memory:";
  unsigned threads = 2;
};

inline constexpr const char* kUsage =
    "usage: kv_service [--variant fiber|coro] [--port N] [--db PATH|:memory:] [--threads N]\n"
    "  PUT/GET/DELETE /kv/KEY, GET /health, GET /metrics (Prometheus text format)\n";

[[noreturn]] inline void usage(const std::string& msg) {
  std::fprintf(stderr, "kv_service: %s\n%s", msg.c_str(), kUsage);
  std::exit(2);
}

inline Config parse(int argc, char** argv) {
  Config c;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    auto number = [&](const std::string& v, unsigned long max) {
      char* end = nullptr;
      const unsigned long n = std::strtoul(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n > max) usage(a + " expects a whole number up to " + std::to_string(max));
      return n;
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--variant") {
      c.variant = value();
      if (c.variant != "fiber" && c.variant != "coro") usage("--variant must be fiber or coro");
    } else if (a == "--port") {
      c.port = static_cast<unsigned short>(number(value(), 65535));
    } else if (a == "--db") {
      c.db = value();
    } else if (a == "--threads") {
      c.threads = static_cast<unsigned>(number(value(), 256));
      if (c.threads == 0) usage("--threads must be at least 1");
    } else {
      usage("unknown argument '" + a + "'");
    }
  }
  return c;
}

}  // namespace kv
