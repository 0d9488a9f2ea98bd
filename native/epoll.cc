// epoll(7) backend. Interest lives in the kernel; epoll_wait hands back only ready fds, so a wait
// costs O(ready), not O(registered). Linux only (binding.gyp compiles it there).
//
// The dup pitfall (epoll(7), Q6): the kernel keys interest by open file, not by fd number. An fd
// closed while a dup keeps its file open stays in the interest list under the old number and
// EPOLL_CTL_DEL can no longer reach it (EBADF, or ENOENT once the number is reused). Such an
// entry would report forever, so a level-triggered loop would spin, and the next fd with that
// number would get its bits. Two defences: results are masked with the current registration
// (asked_), and a failed DEL of a registered fd rebuilds the instance from asked_ (O(n), only
// on that misuse). The new instance takes over the old one's fd number (dup3), so fileno() stays
// the same, but whoever polls that fd (libuv, for an attached Loop) must watch it anew: remove()
// returns 1 to say so.
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "selector.h"
#include "sys.h"

namespace iomux {
namespace {

uint32_t to_epoll_mask(int events) {
  return ((events & kRead) ? EPOLLIN : 0u) | ((events & kWrite) ? EPOLLOUT : 0u);
}

// The kernel always reports EPOLLERR and EPOLLHUP; they wake whichever direction was asked.
int from_epoll_mask(uint32_t revents, int asked) {
  int mask = 0;
  if (revents & (EPOLLIN | EPOLLPRI | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) mask |= kRead;
  if (revents & (EPOLLOUT | EPOLLERR | EPOLLHUP)) mask |= kWrite;
  return mask & asked;
}

class EpollSelector final : public Selector {
 public:
  explicit EpollSelector(int epfd) : epfd_(epfd) {}
  ~EpollSelector() override { close(); }

  int add(int fd, int events) override {
    if (asked_of(fd) != 0) return -EEXIST;
    int rc = control(epfd_, EPOLL_CTL_ADD, fd, events);
    if (rc == 0) set_asked(fd, events);
    return rc;
  }

  int modify(int fd, int events) override {
    if (asked_of(fd) == 0) return -ENOENT;
    int rc = control(epfd_, EPOLL_CTL_MOD, fd, events);
    if (rc == 0) set_asked(fd, events);
    return rc;
  }

  // Returns 0, or 1 when the instance had to be rebuilt (see the top of this file).
  int remove(int fd) override {
    if (asked_of(fd) == 0) return -ENOENT;
    asked_[fd] = 0;
    if (epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr) == 0) return 0;
    int err = neg_errno();
    if (err != -EBADF && err != -ENOENT) return err;
    // Closed behind our back: its file may live on in a dup, out of DEL's reach.
    int rc = rebuild();
    return rc < 0 ? rc : 1;
  }

  int wait(int timeout_ms, int32_t* out, int capacity) override {
    if (size_t(capacity) > batch_.size()) batch_.resize(size_t(capacity));
    int n = wait_retrying_eintr(
        timeout_ms, [&](int ms) { return epoll_wait(epfd_, batch_.data(), capacity, ms); });
    if (n <= 0) return n;
    int count = 0;
    for (int i = 0; i < n; ++i) {
      const epoll_event& ev = batch_[i];
      const int fd = int(ev.data.u64 & 0xffffffffu);
      // The asked mask the entry was made with, and the one registered now: they differ only for
      // an entry left behind by the dup pitfall, whose bits must not reach a new fd.
      int mask = from_epoll_mask(ev.events, int(ev.data.u64 >> 32)) & asked_of(fd);
      if (!mask) continue;
      out[2 * count] = fd;
      out[2 * count + 1] = mask;
      ++count;
    }
    return count;
  }

  void close() override {
    if (epfd_ >= 0) ::close(epfd_);
    epfd_ = -1;
    asked_.clear();
  }

  int backendFd() const override { return epfd_; }

 private:
  // The asked mask also rides in the upper half of data.u64, so a stale entry carries its own.
  static int control(int epfd, int op, int fd, int events) {
    epoll_event ev{};
    ev.events = to_epoll_mask(events);
    ev.data.u64 = (uint64_t(uint32_t(events)) << 32) | uint32_t(fd);
    if (epoll_ctl(epfd, op, fd, &ev) == 0) return 0;
    return neg_errno();
  }

  // A new instance holding every registered fd that is still open replaces the old one, stale
  // entries and all, under the same fd number. A registered fd that is closed stays in asked_
  // (the TS key map still has it) but not in the kernel, where epoll keeps no closed fd anyway.
  int rebuild() {
    int fresh = epoll_create1(EPOLL_CLOEXEC);
    if (fresh < 0) return neg_errno();
    for (size_t fd = 0; fd < asked_.size(); ++fd) {
      // A registered number that `fresh` itself now holds was closed: skip it like EBADF.
      if (asked_[fd] == 0 || int(fd) == fresh) continue;
      int rc = control(fresh, EPOLL_CTL_ADD, int(fd), asked_[fd]);
      if (rc < 0 && rc != -EBADF && rc != -EPERM) {
        ::close(fresh);
        return rc;
      }
    }
    int rc = dup3(fresh, epfd_, O_CLOEXEC) < 0 ? neg_errno() : 0;
    ::close(fresh);
    return rc;
  }

  int asked_of(int fd) const { return fd >= 0 && size_t(fd) < asked_.size() ? asked_[fd] : 0; }

  void set_asked(int fd, int events) {
    if (size_t(fd) >= asked_.size()) asked_.resize(size_t(fd) + 1, 0);
    asked_[fd] = events;
  }

  int epfd_;
  std::vector<epoll_event> batch_;
  std::vector<int> asked_;  // asked_[fd]: the kRead|kWrite mask registered for fd, 0 if none
};

}  // namespace

int make_epoll_selector(std::unique_ptr<Selector>* out) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return neg_errno();
  out->reset(new EpollSelector(epfd));
  return 0;
}

}  // namespace iomux
