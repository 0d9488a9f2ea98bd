// select(2) backend. Copies the interest sets into the kernel on every call and scans every fd up
// to the highest registered one afterwards: O(max fd) per wait, and limited to FD_SETSIZE.
#include <sys/select.h>
#include <unistd.h>

#include <cerrno>
#include <climits>

#include "rotating_scan.h"
#include "selector.h"
#include "sys.h"

namespace iomux {
namespace {

class SelectSelector final : public Selector {
 public:
  SelectSelector() {
    FD_ZERO(&read_interest_);
    FD_ZERO(&write_interest_);
    for (int& e : events_) e = 0;
  }

  int add(int fd, int events) override {
    // FD_SET past FD_SETSIZE writes out of bounds; the TS layer reports this as a RangeError.
    if (fd < 0 || fd >= FD_SETSIZE) return -EINVAL;
    if (!fd_is_open(fd)) return -EBADF;
    if (events_[fd] != 0) return -EEXIST;
    set_interest(fd, events);
    return 0;
  }

  int modify(int fd, int events) override {
    if (fd < 0 || fd >= FD_SETSIZE || events_[fd] == 0) return -ENOENT;
    set_interest(fd, events);
    return 0;
  }

  int remove(int fd) override {
    if (fd < 0 || fd >= FD_SETSIZE || events_[fd] == 0) return -ENOENT;
    set_interest(fd, 0);
    while (max_fd_ >= 0 && events_[max_fd_] == 0) --max_fd_;
    return 0;
  }

  int wait(int timeout_ms, int32_t* out, int capacity) override {
    fd_set readable, writable;
    int n = wait_busy_first(timeout_ms, busy_, [&](int ms) {
      readable = read_interest_;
      writable = write_interest_;
      timeval tv{ms / 1000, (ms % 1000) * 1000};
      return select(max_fd_ + 1, &readable, &writable, nullptr, ms < 0 ? nullptr : &tv);
    });
    busy_ = n != 0;
    if (n == -EBADF) return report_closed_fds(out, capacity);
    if (n <= 0) return n;
    return collect(out, capacity, n, [&](int fd) {
      return (FD_ISSET(fd, &readable) ? kRead : 0) | (FD_ISSET(fd, &writable) ? kWrite : 0);
    });
  }

  // Only this function makes a copy's object, so *copy is a SelectSelector (no RTTI in addons).
  int snapshot_into(std::unique_ptr<Selector>* copy) const override {
    if (*copy)
      *static_cast<SelectSelector*>(copy->get()) = *this;
    else
      copy->reset(new SelectSelector(*this));
    return 0;
  }

  void close() override {}

 private:
  void set_interest(int fd, int events) {
    events_[fd] = events;
    if (events & kRead)
      FD_SET(fd, &read_interest_);
    else
      FD_CLR(fd, &read_interest_);
    if (events & kWrite)
      FD_SET(fd, &write_interest_);
    else
      FD_CLR(fd, &write_interest_);
    if (events && fd > max_fd_) max_fd_ = fd;
  }

  // select(2) fails the whole call with EBADF when any set holds a closed fd. The contract says
  // such an fd is reported ready with its asked bits so its owner's next syscall sees EBADF; the
  // open fds are polled once more without the closed ones, so their readiness is not hidden
  // (level-triggered: a ready fd is reported by every wait, as poll(2) does beside POLLNVAL).
  int report_closed_fds(int32_t* out, int capacity) {
    fd_set closed, readable = read_interest_, writable = write_interest_;
    FD_ZERO(&closed);
    for (int fd = 0; fd <= max_fd_; ++fd) {
      if (events_[fd] == 0 || fd_is_open(fd)) continue;
      FD_SET(fd, &closed);
      FD_CLR(fd, &readable);
      FD_CLR(fd, &writable);
    }
    timeval zero{0, 0};
    if (select(max_fd_ + 1, &readable, &writable, nullptr, &zero) < 0) {
      FD_ZERO(&readable);  // an fd closed in between: its turn comes on the next wait
      FD_ZERO(&writable);
    }
    return collect(out, capacity, INT_MAX, [&](int fd) {
      if (FD_ISSET(fd, &closed)) return events_[fd];
      return (FD_ISSET(fd, &readable) ? kRead : 0) | (FD_ISSET(fd, &writable) ? kWrite : 0);
    });
  }

  // `bits` is select(2)'s count: one per set an fd is in.
  template <typename MaskOf>
  int collect(int32_t* out, int capacity, int bits, MaskOf mask_of) {
    return rotating_scan(max_fd_ + 1, &scan_start_, out, capacity, bits, [&](int fd) {
      if (events_[fd] == 0) return ScanHit{fd, 0, 0};
      const int ready = mask_of(fd);
      return ScanHit{fd, ready & events_[fd], (ready & kRead ? 1 : 0) + (ready & kWrite ? 1 : 0)};
    });
  }

  fd_set read_interest_, write_interest_;
  int events_[FD_SETSIZE];
  int max_fd_ = -1;
  int scan_start_ = 0;
  bool busy_ = false;  // the last wait returned events or EBADF (see wait_busy_first in sys.h)
};

}  // namespace

int make_select_selector(std::unique_ptr<Selector>* out) {
  out->reset(new SelectSelector());
  return 0;
}

}  // namespace iomux
