// Small helpers shared by the backends: errno as a return value, and waits that survive EINTR.
#pragma once

#include <fcntl.h>
#include <time.h>
#include <cerrno>
#include <climits>
#include <cstdint>

namespace iomux {

// Syscall wrappers report failure as -errno so that the N-API layer passes plain numbers.
inline int neg_errno() { return -errno; }

inline int64_t monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

inline bool fd_is_open(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

// Runs `wait_once(timeout_ms)` and retries it on EINTR with the time left until the original
// deadline (libuv's posix poll does the same), so a signal neither fails nor shortens a wait.
// `wait_once` returns a count, or -1 with errno set. Returns the count or -errno.
template <typename WaitOnce>
int wait_retrying_eintr(int timeout_ms, WaitOnce wait_once) {
  const int64_t deadline = timeout_ms > 0 ? monotonic_ns() + int64_t(timeout_ms) * 1000000 : 0;
  int remaining = timeout_ms;
  for (;;) {
    int n = wait_once(remaining);
    if (n >= 0) return n;
    if (errno != EINTR) return neg_errno();
    if (timeout_ms > 0) {
      // Round the rest up to whole ms: a wait ends at or after its deadline, never before.
      int64_t left_ms = (deadline - monotonic_ns() + 999999) / 1000000;
      remaining = left_ms > 0 ? int(left_ms < INT_MAX ? left_ms : INT_MAX) : 0;
    }
  }
}

}  // namespace iomux
