// getaddrinfo(3) off the main thread. A small fixed pool of helper threads (made on first use)
// runs the lookups; each finished lookup writes one 0 byte to the wake fd its loop gave, so a
// loop blocked in its selector wakes up and collects the result with resolver_take. No N-API
// here, and the helper threads never touch a JS value.
#pragma once

#include <string>
#include <vector>

namespace iomux {

struct ResolvedAddress {
  int family = 0;    // AF_INET or AF_INET6
  std::string host;  // numeric text
};

// Queues a lookup of `host` for family AF_UNSPEC, AF_INET or AF_INET6; returns its id (> 0).
int resolver_start(const std::string& host, int family, int wake_fd);

// 1: done (status is 0 or an EAI_* code, sys_errno is errno for EAI_SYSTEM, out the addresses in
// getaddrinfo's order) and forgotten; 0: still queued or running; -1: no such lookup.
int resolver_take(int id, int* status, int* sys_errno, std::vector<ResolvedAddress>* out);

// Forgets a lookup. One still queued is dropped; one running finishes on its thread and its
// result is thrown away. Once this returns, the lookup's wake fd is never written again, so the
// caller may close it.
void resolver_cancel(int id);

}  // namespace iomux
