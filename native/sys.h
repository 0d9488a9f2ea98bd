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

// Busy-loop shortcut for the scanning backends (select, poll). Given a timeout, poll(2) and
// select(2) first hang a wait-queue entry on every fd they scan before the first ready one (each
// a get_file() and a spinlocked list insert, undone on return), work a zero timeout skips (fs/
// select.c, do_poll: "pt->_qproc = NULL" once an fd is ready or the timeout is zero). So when the
// previous wait found something, the loop is most likely busy, and a zero-timeout scan is tried
// before the blocking one. A loop that found nothing goes straight to the blocking call, so an
// idle wake-up pays no extra scan. Measured by bench/pipes A=1 W=100 (one ready fd among N).
template <typename WaitOnce>
int wait_busy_first(int timeout_ms, bool was_busy, WaitOnce wait_once) {
  if (timeout_ms != 0 && was_busy) {
    int n = wait_retrying_eintr(0, wait_once);
    if (n != 0) return n;
  }
  return wait_retrying_eintr(timeout_ms, wait_once);
}

}  // namespace iomux
