#pragma once
#include <napi.h>

namespace iomux {
// Adds sendto/recvfrom (datagram sockets) to the addon's exports.
void InitDatagramBindings(Napi::Env env, Napi::Object exports);
}  // namespace iomux
