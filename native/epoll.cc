// epoll(7) backend. Interest lives in the kernel; epoll_wait hands back only ready fds, so a wait
// costs O(ready), not O(registered). Linux only (binding.gyp compiles it there).
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

  int add(int fd, int events) override { return control(EPOLL_CTL_ADD, fd, events); }
  int modify(int fd, int events) override { return control(EPOLL_CTL_MOD, fd, events); }

  int remove(int fd) override {
    if (epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr) == 0) return 0;
    return neg_errno();
  }

  int wait(int timeout_ms, int32_t* out, int capacity) override {
    if (size_t(capacity) > batch_.size()) batch_.resize(size_t(capacity));
    int n = wait_retrying_eintr(timeout_ms, [&](int ms) {
      return epoll_wait(epfd_, batch_.data(), capacity, ms);
    });
    if (n <= 0) return n;
    int count = 0;
    for (int i = 0; i < n; ++i) {
      const epoll_event& ev = batch_[i];
      int asked = int(ev.data.u64 >> 32);
      int mask = from_epoll_mask(ev.events, asked);
      if (!mask) continue;
      out[2 * count] = int32_t(ev.data.u64 & 0xffffffffu);
      out[2 * count + 1] = mask;
      ++count;
    }
    return count;
  }

  void close() override {
    if (epfd_ >= 0) ::close(epfd_);
    epfd_ = -1;
  }

  int backendFd() const override { return epfd_; }

 private:
  // The asked mask rides in the upper half of data.u64 so wait() needs no fd -> events table.
  int control(int op, int fd, int events) {
    epoll_event ev{};
    ev.events = to_epoll_mask(events);
    ev.data.u64 = (uint64_t(uint32_t(events)) << 32) | uint32_t(fd);
    if (epoll_ctl(epfd_, op, fd, &ev) == 0) return 0;
    return neg_errno();
  }

  int epfd_;
  std::vector<epoll_event> batch_;
};

}  // namespace

int make_epoll_selector(std::unique_ptr<Selector>* out) {
  int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return neg_errno();
  out->reset(new EpollSelector(epfd));
  return 0;
}

}  // namespace iomux
