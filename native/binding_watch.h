#pragma once
#include <napi.h>

namespace iomux {
// Adds FdWatch: a uv_poll_t on Node's own event loop that calls a JS function whenever an fd is
// readable. It drives a Loop from inside an ordinary Node program (Loop.attach()).
void InitWatchBindings(Napi::Env env, Napi::Object exports);
}  // namespace iomux
