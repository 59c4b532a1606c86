// examples/demo/command_line.hpp — demo [--requests N] [--db PATH] [--threads N]; --help / -h
// print the usage and exit 0; a bad argument throws BadArguments (main prints it with the usage
// and exits 2).
#pragma once

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>

// Options — what the command line asks for.
struct Options {
  int requests = 200;
  std::string db = ":memory:";
  unsigned threads = 0;  // 0 = one per CPU
};

inline const char* const usage =
    "usage: demo [--requests N] [--db PATH] [--threads N]\n"
    "  --requests N  concurrent requests to serve (1..1000000, default 200)\n"
    "  --db PATH     SQLite database (default :memory:); a file gets tables 'requests' and 'audit'\n"
    "  --threads N   scheduler threads of the runtime (1..256, default: one per CPU)\n";

struct BadArguments : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline long parse_number(std::string_view flag, std::string_view text, long lo, long hi) {
  long v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v < lo || v > hi)
    throw BadArguments(std::string(flag) + " expects a whole number from " + std::to_string(lo) + " to " +
                       std::to_string(hi) + ", not '" + std::string(text) + "'");
  return v;
}

inline Options parse(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&]() -> std::string_view {
      if (i + 1 >= argc) throw BadArguments(std::string(arg) + " needs a value");
      return argv[++i];
    };
    if (arg == "--requests") opt.requests = static_cast<int>(parse_number(arg, value(), 1, 1000000));
    else if (arg == "--db") opt.db = value();
    else if (arg == "--threads") opt.threads = static_cast<unsigned>(parse_number(arg, value(), 1, 256));
    else if (arg == "--help" || arg == "-h") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else throw BadArguments("unknown argument '" + std::string(arg) + "'");
  }
  return opt;
}
