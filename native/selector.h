// The one interface every readiness backend implements.
//
// Contract (shared by select, poll, epoll and kqueue; the TypeScript BaseSelector relies on it):
// - Level-triggered: a fd that stays ready is reported by every wait() until its state changes.
// - Masks use kRead|kWrite only. Readable data, EOF, a pending connection, an error or a hang-up
//   report kRead if it was asked; writable space, an error or a hang-up report kWrite if it was
//   asked. Bits that were not asked for are never reported. select(2) has no hang-up bit, so a
//   pipe whose writer went away shows only kRead there.
// - wait() writes at most `capacity` (fd, mask) pairs into `out`, one pair per fd, and returns
//   their count; it allocates nothing. When more fds are ready than fit, later calls report the
//   rest first (select/poll rotate their scan start; epoll's ready list rotates in the kernel).
// - timeout_ms < 0 waits forever, 0 polls. EINTR is retried with the time that is left, so a
//   signal never shortens or breaks a wait (see sys.h).
// - Every failure is returned as -errno; nothing here throws.
// - A registered fd closed behind the selector's back: select and poll report it ready with the
//   asked bits (the owner's next read fails with EBADF); epoll and kqueue drop it as the kernel
//   does. This layer owns the rule that remove() of such an fd succeeds: it returns 0 (or 1, see
//   below), never -EBADF/-ENOENT, whether or not the number was reused since. remove() of an fd
//   that is not registered returns -ENOENT; add() of one that is returns -EEXIST.
// - epoll's dup pitfall (epoll(7) Q6): an fd closed while a dup keeps its file open can stay in
//   the kernel's interest list under its old number. Results are masked with the current
//   registration, and remove() of such an fd rebuilds the kernel object from the registrations
//   and returns 1: backendFd() keeps its number but is a new file, which whoever polls it
//   (libuv) must watch anew.
#pragma once

#include <cerrno>
#include <cstdint>
#include <memory>

namespace iomux {

enum EventMask : int { kRead = 1, kWrite = 2 };

class Selector {
 public:
  virtual ~Selector() = default;
  virtual int add(int fd, int events) = 0;
  virtual int modify(int fd, int events) = 0;
  virtual int remove(int fd) = 0;  // 0, or 1 when backendFd() was replaced; -errno on failure
  virtual int wait(int timeout_ms, int32_t* out, int capacity) = 0;
  virtual void close() = 0;
  // The kernel object's own fd (epoll/kqueue), pollable by another loop; -1 where none exists.
  virtual int backendFd() const { return -1; }
  // Copies the registrations into *copy (made here when null, else made by this same call on
  // this same backend earlier), for a thread that waits on the copy while this one keeps
  // changing them (wait_thread.h). -ENOSYS where the backend has a pollable fd instead.
  virtual int snapshot_into(std::unique_ptr<Selector>* copy) const {
    (void)copy;
    return -ENOSYS;
  }
};

// Factories return 0 and fill `out`, or return -errno (epoll_create1/kqueue can hit EMFILE).
int make_select_selector(std::unique_ptr<Selector>* out);
int make_poll_selector(std::unique_ptr<Selector>* out);
int make_epoll_selector(std::unique_ptr<Selector>* out);
int make_kqueue_selector(std::unique_ptr<Selector>* out);

}  // namespace iomux
