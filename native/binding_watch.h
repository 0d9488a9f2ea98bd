#pragma once
#include <napi.h>

#include <memory>

#include "selector.h"

namespace iomux {
// Adds the watches that let Node's own event loop drive a Loop (Loop.attach()): FdWatch, a
// uv_poll_t on the selector's own fd (epoll, kqueue), and ThreadWatch, a wait thread for select
// and poll (wait_thread.h) reporting through a uv_async_t. Also uvHandles(), for tests.
void InitWatchBindings(Napi::Env env, Napi::Object exports);

// Where a NativeSelector object keeps its backend (binding.cc): ThreadWatch swaps a WaitThread
// in and back out. `backend` is null when `value` is not a NativeSelector.
struct SelectorSlot {
  std::unique_ptr<Selector>* backend;
  int capacity;
};
SelectorSlot selector_slot(Napi::Value value);
}  // namespace iomux
