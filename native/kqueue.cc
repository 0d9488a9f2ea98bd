// kqueue(2) backend for macOS and the BSDs, kept parallel to epoll.cc.
// Never run on a real BSD or macOS kernel: no machine this project runs on is one. On Linux the
// test build (`npm run test:kqueue`) compiles it against test/native/kqueue-double, a poll(2)
// emulation of <sys/event.h>, and runs the selector suite on it: that checks the translation
// below (filters, EV_ADD/EV_DELETE, the per-fd merge, the error mapping), not the kernel.
// Keep it small and obviously right; read it against epoll.cc.
//
// No dup pitfall here: knotes hang off the fd number, and close(2) removes them.
#include <sys/event.h>
#include <sys/time.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "selector.h"
#include "sys.h"

namespace iomux {
namespace {

// kqueue reports each filter separately; EV_EOF and EV_ERROR wake the filter they arrive on.
int from_kevent(const struct kevent& ev) {
  if (ev.filter == EVFILT_READ) return kRead;
  if (ev.filter == EVFILT_WRITE) return kWrite;
  return 0;
}

class KqueueSelector final : public Selector {
 public:
  explicit KqueueSelector(int kq) : kq_(kq) {}
  ~KqueueSelector() override { close(); }

  // EV_ADD would quietly modify an existing knote; the contract (selector.h) wants -EEXIST.
  int add(int fd, int events) override {
    if (fd < 0) return -EBADF;
    if (asked_of(fd) != 0) return -EEXIST;
    return apply(fd, 0, events);
  }

  int modify(int fd, int events) override {
    if (asked_of(fd) == 0) return -ENOENT;
    return apply(fd, asked_[fd], events);
  }

  // A registered fd that was closed (EBADF) or whose number now names another file (ENOENT) lost
  // its knotes in close(2): removing it succeeds, as selector.h says.
  int remove(int fd) override {
    if (asked_of(fd) == 0) return -ENOENT;
    int rc = apply(fd, asked_[fd], 0);
    asked_[fd] = 0;
    return rc == -EBADF || rc == -ENOENT ? 0 : rc;
  }

  int wait(int timeout_ms, int32_t* out, int capacity) override {
    if (size_t(capacity) > batch_.size()) batch_.resize(size_t(capacity));
    int n = wait_retrying_eintr(timeout_ms, [&](int ms) {
      timespec ts{ms / 1000, long(ms % 1000) * 1000000};
      return kevent(kq_, nullptr, 0, batch_.data(), capacity, ms < 0 ? nullptr : &ts);
    });
    if (n <= 0) return n;
    // One fd may come back twice (read and write filters): merge into one pair per fd.
    int count = 0;
    for (int i = 0; i < n; ++i) {
      int fd = int(batch_[i].ident);
      // Masked with the registration: a change list that failed half way may leave a knote
      // that asked_ does not have, and its bits must not reach the caller.
      int mask = from_kevent(batch_[i]) & asked_of(fd);
      if (!mask) continue;
      int j = 0;
      while (j < count && out[2 * j] != fd) ++j;
      if (j == count) {
        out[2 * count] = fd;
        out[2 * count + 1] = 0;
        ++count;
      }
      out[2 * j + 1] |= mask;
    }
    return count;
  }

  void close() override {
    if (kq_ >= 0) ::close(kq_);
    kq_ = -1;
  }

  int backendFd() const override { return kq_; }

 private:
  // Moves fd from interest `before` to `after` with one kevent() call of up to two changes.
  int apply(int fd, int before, int after) {
    struct kevent changes[2];
    int n = 0;
    const int filters[2] = {EVFILT_READ, EVFILT_WRITE};
    const int bits[2] = {kRead, kWrite};
    for (int i = 0; i < 2; ++i) {
      bool was = before & bits[i], want = after & bits[i];
      if (was == want) continue;
      EV_SET(&changes[n++], fd, filters[i], want ? EV_ADD : EV_DELETE, 0, 0, nullptr);
    }
    if (n > 0 && kevent(kq_, changes, n, nullptr, 0, nullptr) < 0) return neg_errno();
    if (size_t(fd) >= asked_.size()) asked_.resize(size_t(fd) + 1, 0);
    asked_[fd] = after;
    return 0;
  }

  int asked_of(int fd) const { return fd >= 0 && size_t(fd) < asked_.size() ? asked_[fd] : 0; }

  int kq_;
  std::vector<int> asked_;  // asked_[fd]: the registered kRead|kWrite mask, 0 if none
  std::vector<struct kevent> batch_;
};

}  // namespace

int make_kqueue_selector(std::unique_ptr<Selector>* out) {
  int kq = kqueue();
  if (kq < 0) return neg_errno();
  out->reset(new KqueueSelector(kq));
  return 0;
}

}  // namespace iomux
