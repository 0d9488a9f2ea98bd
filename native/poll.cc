// poll(2) backend. No FD_SETSIZE limit, but the whole pollfd array still crosses into the kernel
// and is scanned on every call: O(registered fds) per wait.
#include <poll.h>
#include <cerrno>
#include <vector>

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
    int n = wait_busy_first(timeout_ms, busy_, [&](int ms) {
      return poll(fds_.data(), nfds_t(fds_.size()), ms);
    });
    busy_ = n > 0;
    if (n <= 0) return n;
    // Start where a truncated scan stopped so no ready fd starves behind lower slots; two plain
    // ranges rather than a modulo per slot, and stop once all n ready slots are seen.
    const int total = int(fds_.size());
    if (scan_start_ >= total) scan_start_ = 0;
    int count = 0;
    int left = n;
    for (int pass = 0; pass < 2 && left > 0; ++pass) {
      const int from = pass == 0 ? scan_start_ : 0;
      const int to = pass == 0 ? total : scan_start_;
      for (int slot = from; slot < to && left > 0; ++slot) {
        if (fds_[slot].revents == 0) continue;
        --left;
        int mask = from_poll_mask(fds_[slot].revents, asked_[slot]);
        if (!mask) continue;
        if (count == capacity) {
          scan_start_ = slot;
          return count;
        }
        out[2 * count] = fds_[slot].fd;
        out[2 * count + 1] = mask;
        ++count;
      }
    }
    return count;
  }

  void close() override {
    fds_.clear();
    asked_.clear();
    slots_.clear();
  }

 private:
  int slot_of(int fd) const {
    return fd >= 0 && size_t(fd) < slots_.size() ? slots_[fd] : -1;
  }

  std::vector<pollfd> fds_;
  std::vector<int> asked_;   // asked_[slot]: the kRead|kWrite mask registered for fds_[slot]
  std::vector<int> slots_;   // slots_[fd]: index into fds_, or -1 when fd is not registered
  int scan_start_ = 0;
  bool busy_ = false;        // the last wait returned events (see wait_busy_first in sys.h)
};

}  // namespace

int make_poll_selector(std::unique_ptr<Selector>* out) {
  out->reset(new PollSelector());
  return 0;
}

}  // namespace iomux
