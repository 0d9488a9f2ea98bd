// poll(2) backend. No FD_SETSIZE limit, but the whole pollfd array still crosses into the kernel
// and is scanned on every call: O(registered fds) per wait.
#include <poll.h>

#include <cerrno>
#include <vector>

#include "rotating_scan.h"
#include "selector.h"
#include "sys.h"

namespace iomux {
namespace {

short to_poll_mask(int events) {
  return short(((events & kRead) ? POLLIN : 0) | ((events & kWrite) ? POLLOUT : 0));
}

// Errors and hang-ups wake both directions (see selector.h); POLLNVAL means the fd was closed
// behind our back, reported with the asked bits so the owner's next syscall sees EBADF.
int from_poll_mask(short revents, int asked) {
  if (revents & POLLNVAL) return asked;
  int mask = 0;
  if (revents & (POLLIN | POLLPRI | POLLERR | POLLHUP)) mask |= kRead;
  if (revents & (POLLOUT | POLLERR | POLLHUP)) mask |= kWrite;
  return mask & asked;
}

class PollSelector final : public Selector {
 public:
  int add(int fd, int events) override {
    if (fd < 0) return -EBADF;
    if (!fd_is_open(fd)) return -EBADF;
    if (slot_of(fd) >= 0) return -EEXIST;
    if (size_t(fd) >= slots_.size()) slots_.resize(size_t(fd) + 1, -1);
    slots_[fd] = int(fds_.size());
    fds_.push_back(pollfd{fd, to_poll_mask(events), 0});
    asked_.push_back(events);
    return 0;
  }

  int modify(int fd, int events) override {
    int slot = slot_of(fd);
    if (slot < 0) return -ENOENT;
    fds_[slot].events = to_poll_mask(events);
    asked_[slot] = events;
    return 0;
  }

  // Swap-with-last keeps the array dense so poll(2) never sees holes.
  int remove(int fd) override {
    int slot = slot_of(fd);
    if (slot < 0) return -ENOENT;
    int last = int(fds_.size()) - 1;
    if (slot != last) {
      fds_[slot] = fds_[last];
      asked_[slot] = asked_[last];
      slots_[fds_[slot].fd] = slot;
    }
    fds_.pop_back();
    asked_.pop_back();
    slots_[fd] = -1;
    return 0;
  }

  int wait(int timeout_ms, int32_t* out, int capacity) override {
    int n = wait_busy_first(timeout_ms, busy_,
                            [&](int ms) { return poll(fds_.data(), nfds_t(fds_.size()), ms); });
    busy_ = n > 0;
    if (n <= 0) return n;
    return rotating_scan(int(fds_.size()), &scan_start_, out, capacity, n, [&](int slot) {
      const pollfd& p = fds_[slot];
      if (p.revents == 0) return ScanHit{p.fd, 0, 0};
      return ScanHit{p.fd, from_poll_mask(p.revents, asked_[slot]), 1};
    });
  }

  // Only this function makes a copy's object, so *copy is a PollSelector (no RTTI in addons).
  int snapshot_into(std::unique_ptr<Selector>* copy) const override {
    if (*copy)
      *static_cast<PollSelector*>(copy->get()) = *this;
    else
      copy->reset(new PollSelector(*this));
    return 0;
  }

  void close() override {
    fds_.clear();
    asked_.clear();
    slots_.clear();
  }

 private:
  int slot_of(int fd) const { return fd >= 0 && size_t(fd) < slots_.size() ? slots_[fd] : -1; }

  std::vector<pollfd> fds_;
  std::vector<int> asked_;  // asked_[slot]: the kRead|kWrite mask registered for fds_[slot]
  std::vector<int> slots_;  // slots_[fd]: index into fds_, or -1 when fd is not registered
  int scan_start_ = 0;
  bool busy_ = false;  // the last wait returned events (see wait_busy_first in sys.h)
};

}  // namespace

int make_poll_selector(std::unique_ptr<Selector>* out) {
  out->reset(new PollSelector());
  return 0;
}

}  // namespace iomux
