#pragma once
#include <napi.h>

namespace iomux {
// Adds resolverStart/resolverTake/resolverCancel and the EAI_* constants to the addon's exports.
void InitResolverBindings(Napi::Env env, Napi::Object exports);
}  // namespace iomux
