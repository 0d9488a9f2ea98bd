// The wait thread of an attached select/poll loop. The design and its threading invariants are
// stated once, in wait_thread.h.
#include "wait_thread.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#if defined(__linux__)
#include <sys/eventfd.h>
#endif

#include "sys.h"

namespace iomux {
namespace {

// An eventfd where there is one (one fd, a counter); else a pipe. Both non-blocking, close-on-exec.
int make_wake_fds(int* read_end, int* write_end) {
#if defined(__linux__)
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return neg_errno();
  *read_end = *write_end = fd;
  return 0;
#else
  int fds[2];
  if (pipe(fds) < 0) return neg_errno();
  for (int fd : fds) {
    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
      int err = neg_errno();
      ::close(fds[0]);
      ::close(fds[1]);
      return err;
    }
  }
  *read_end = fds[0];
  *write_end = fds[1];
  return 0;
#endif
}

}  // namespace

WaitThread::WaitThread(std::unique_ptr<Selector> inner, int capacity, LoopLink* link)
    : capacity_(capacity > 0 ? capacity : 1),
      link_(link),
      inner_(std::move(inner)),
      batch_(size_t(capacity_) * 2) {}

WaitThread::~WaitThread() {
  stop();
  if (link_ != nullptr) link_->thread_gone();
}

int WaitThread::start() {
  if (running_ || !inner_) return -EINVAL;
  int rc = make_wake_fds(&wake_read_, &wake_write_);
  if (rc < 0) return rc;
  start_gen_ = gen_;
  rc = inner_->snapshot_into(&copy_);
  if (rc == 0) rc = copy_->add(wake_read_, kRead);  // select: -EINVAL past FD_SETSIZE
  if (rc < 0) {
    close_wake_fds();
    copy_.reset();
    return rc == -ENOSYS ? -EINVAL : rc;
  }
  // The new thread inherits the signal mask in force when it is created: block everything for
  // that moment, so signals stay with Node's threads (and never interrupt the wait needlessly).
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = pthread_create(&thread_, nullptr, &WaitThread::thread_main, this);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (rc != 0) {
    close_wake_fds();
    copy_.reset();
    return -rc;
  }
  running_ = true;
  return 0;
}

void* WaitThread::thread_main(void* self) {
  static_cast<WaitThread*>(self)->run();
  return nullptr;
}

void WaitThread::run() {
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t copied = start_gen_;  // start() took copy_ at this generation, maybe before a change
  for (;;) {
    resumed_.wait(lock, [this] { return stopping_ || !posted_; });
    if (stopping_) return;
    if (copied != gen_) {
      copied = gen_;
      int rc = refresh_copy_locked();
      if (rc < 0) {  // the loop thread's wait() returns it: the same error the owned mode raises
        batch_count_ = rc;
        batch_gen_ = copied;
        posted_ = true;
        taken_ = false;
        link_->batch_ready();
        continue;
      }
    }
    waiting_ = true;
    lock.unlock();
    int n = copy_->wait(-1, batch_.data(), capacity_);
    lock.lock();
    waiting_ = false;
    if (stopping_) return;
    n = drop_wake_entry(n);
    if (n == 0) continue;  // only woken: a registration changed, or a stop that is not ours
    batch_count_ = n;
    batch_gen_ = copied;
    posted_ = true;
    taken_ = false;
    link_->batch_ready();
  }
}

// Takes the wake fd's pair out of a batch and drains the wake fd, so it is not reported again.
int WaitThread::drop_wake_entry(int count) {
  for (int i = 0; i < count; ++i) {
    if (batch_[2 * i] != wake_read_) continue;
    std::memmove(&batch_[2 * i], &batch_[2 * i + 2], sizeof(int32_t) * 2 * size_t(count - i - 1));
    uint64_t drained[8];
    while (read(wake_read_, drained, sizeof drained) > 0) {
    }
    wake_pending_ = false;
    return count - 1;
  }
  return count;
}

int WaitThread::refresh_copy_locked() {
  int rc = inner_->snapshot_into(&copy_);
  return rc < 0 ? rc : copy_->add(wake_read_, kRead);
}

// Write the wake fd at most once per drain: one byte of pipe or one eventfd increment suffices.
void WaitThread::wake_locked() {
  if (!waiting_ || wake_pending_) return;
  wake_pending_ = true;
  const uint64_t one = 1;
  // Only EAGAIN can fail here (the counter or pipe is full), and then a wake is pending anyway.
  ssize_t ignored = write(wake_write_, &one, wake_write_ == wake_read_ ? sizeof one : 1);
  (void)ignored;
}

template <typename Change>
int WaitThread::change(Change op) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!inner_) return -EBADF;
  int rc = op();
  // Even a failed change may have altered the kernel's view (a remove of a closed fd): re-copy.
  ++gen_;
  wake_locked();
  return rc;
}

int WaitThread::add(int fd, int events) {
  return change([&] { return inner_->add(fd, events); });
}

int WaitThread::modify(int fd, int events) {
  return change([&] { return inner_->modify(fd, events); });
}

int WaitThread::remove(int fd) {
  return change([&] { return inner_->remove(fd); });
}

int WaitThread::wait(int /*timeout_ms*/, int32_t* out, int capacity) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!posted_ || taken_ || !inner_) return 0;
  taken_ = true;
  // The batch came from a snapshot that registrations have changed since: scan them now.
  if (batch_gen_ != gen_) return inner_->wait(0, out, capacity);
  const int n = std::min(batch_count_, capacity);
  if (n > 0) std::memcpy(out, batch_.data(), sizeof(int32_t) * 2 * size_t(n));
  return n;
}

void WaitThread::resume() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!posted_) return;
  posted_ = false;
  resumed_.notify_one();
}

void WaitThread::stop() {
  if (!running_) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    resumed_.notify_one();
    wake_locked();
  }
  pthread_join(thread_, nullptr);
  running_ = false;
  close_wake_fds();
  copy_.reset();
}

std::unique_ptr<Selector> WaitThread::release() {
  stop();
  link_ = nullptr;
  std::lock_guard<std::mutex> lock(mu_);
  return std::move(inner_);
}

void WaitThread::close() {
  stop();
  std::lock_guard<std::mutex> lock(mu_);
  if (inner_) inner_->close();
}

void WaitThread::close_wake_fds() {
  if (wake_write_ >= 0 && wake_write_ != wake_read_) ::close(wake_write_);
  if (wake_read_ >= 0) ::close(wake_read_);
  wake_read_ = wake_write_ = -1;
}

}  // namespace iomux
