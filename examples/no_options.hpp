// examples/no_options.hpp — the command line of the examples that take no options.
//
//   accept_no_options(argc, argv, "hello_bridge", usage);
//
// The first argument decides: --help or -h prints `usage` on stdout and exits 0; anything else
// prints what is wrong and the usage on stderr and exits 2. No argument: returns, the program runs.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

inline void accept_no_options(int argc, char** argv, const char* program, const char* usage) {
  if (argc < 2) return;
  const std::string_view arg = argv[1];
  if (arg == "--help" || arg == "-h") {
    std::fputs(usage, stdout);
    std::exit(0);
  }
  std::fprintf(stderr, "%s: unknown argument '%s'\n%s", program, argv[1], usage);
  std::exit(2);
}
