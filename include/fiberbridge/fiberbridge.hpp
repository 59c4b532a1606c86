// fiberbridge/fiberbridge.hpp — the umbrella header: everything public.
//
//   #include <fiberbridge/fiberbridge.hpp>
//   namespace fb = fiberbridge;
#pragma once

#include "fiberbridge/async_to_sync.hpp"
#include "fiberbridge/context.hpp"
#include "fiberbridge/errors.hpp"
#include "fiberbridge/executor.hpp"
#include "fiberbridge/runtime.hpp"
#include "fiberbridge/sync_to_async.hpp"
#include "fiberbridge/task.hpp"
#include "fiberbridge/thread_sensitive.hpp"
#include "fiberbridge/traits.hpp"
