#pragma once
#include <napi.h>

namespace iomux {
// Adds the socket, pipe and signal functions and their constants to the addon's exports.
void InitSocketBindings(Napi::Env env, Napi::Object exports);
}  // namespace iomux
