// tests/context_vars.hpp — the context variables and the shaped fixture shared by the context
// suites (context_var_test, context_copy_test, context_local_test). Tests set them only on fresh
// plain threads (run_with_deadline) and on fibers, so each test starts with them unset.
#pragma once

#include <string>

#include "fixtures.hpp"

namespace fbtest {

inline fb::ContextVar<std::string> foo{"foo"};
inline fb::ContextVar<int> counter{"counter", 0};
inline fb::ContextVar<int> no_default{"no_default"};

class ContextShape : public ShapedTest {};

}  // namespace fbtest
