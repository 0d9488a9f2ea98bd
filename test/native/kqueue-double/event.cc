// The kqueue/kevent emulation declared in sys/event.h (see there for what it does and does not
// cover). Test builds only.
#include "sys/event.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <climits>
#include <iterator>
#include <list>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace {

// One registered (fd, filter) pair. `dev`/`ino` identify the open file at EV_ADD time, so a knote
// whose fd number was closed and reused is recognised as gone.
struct Knote {
  int fd;
  int16_t filter;
  dev_t dev;
  ino_t ino;
  void* udata;
};

// A queue: its knotes in delivery order, and an index by (fd, filter). Delivered knotes move to
// the back, as the kernel re-queues an active level-triggered knote behind the others, so a short
// event list never starves the fds that did not fit.
struct Queue {
  std::list<Knote> order;
  std::unordered_map<int64_t, std::list<Knote>::iterator> index;
};

std::mutex g_mutex;
std::map<int, Queue> g_queues;  // keyed by the fd kqueue() returned

int64_t key_of(int fd, int16_t filter) { return int64_t(fd) * 2 + (filter == EVFILT_WRITE ? 1 : 0); }

bool same_file(const Knote& k) {
  struct stat st;
  return fstat(k.fd, &st) == 0 && st.st_dev == k.dev && st.st_ino == k.ino;
}

void erase(Queue& q, std::list<Knote>::iterator it) {
  q.index.erase(key_of(it->fd, it->filter));
  q.order.erase(it);
}

// The live knote for (fd, filter), or end(). close(2) removes an fd's knotes in the kernel; here
// a knote whose file is no longer behind its fd number is dropped when it is next looked at.
std::list<Knote>::iterator find(Queue& q, int fd, int16_t filter) {
  auto hit = q.index.find(key_of(fd, filter));
  if (hit == q.index.end()) return q.order.end();
  auto it = hit->second;
  if (same_file(*it)) return it;
  erase(q, it);
  return q.order.end();
}

// Applies one change; returns 0 or an errno value.
int apply(Queue& q, const struct kevent& ch) {
  int fd = int(ch.ident);
  if (ch.filter != EVFILT_READ && ch.filter != EVFILT_WRITE) return EINVAL;
  struct stat st;
  if (ch.ident > uintptr_t(INT_MAX) || fstat(fd, &st) < 0) return EBADF;
  auto it = find(q, fd, ch.filter);
  bool found = it != q.order.end();
  if (ch.flags & EV_DELETE) {
    if (!found) return ENOENT;
    erase(q, it);
    return 0;
  }
  if (ch.flags & EV_ADD) {
    if (found) {
      it->udata = ch.udata;  // EV_ADD on an existing knote modifies it
    } else {
      q.order.push_back(Knote{fd, ch.filter, st.st_dev, st.st_ino, ch.udata});
      q.index[key_of(fd, ch.filter)] = std::prev(q.order.end());
    }
    return 0;
  }
  return found ? 0 : ENOENT;  // EV_ENABLE/EV_DISABLE of an absent knote
}

short poll_bits(int16_t filter) { return filter == EVFILT_READ ? POLLIN | POLLRDHUP : POLLOUT; }

// Whether a knote fires for these revents, and with which flags (EV_EOF when its direction ended:
// the peer shut down writing, or hung up, for reads; the reader went away, for writes).
bool fires(int16_t filter, short revents, uint16_t* flags) {
  *flags = 0;
  if (filter == EVFILT_READ) {
    if (revents & (POLLRDHUP | POLLHUP)) *flags |= EV_EOF;
    return revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR);
  }
  if (revents & (POLLHUP | POLLERR)) *flags |= EV_EOF;
  return revents & (POLLOUT | POLLHUP | POLLERR);
}

int64_t now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

int to_ms(const struct timespec* ts) {
  if (!ts) return -1;
  long long ms = (long long)ts->tv_sec * 1000 + (ts->tv_nsec + 999999) / 1000000;
  return ms > INT_MAX ? INT_MAX : int(ms);
}

}  // namespace

int kqueue(void) {
  int fd = eventfd(0, EFD_CLOEXEC);  // stands for the queue: a real fd the caller close()s
  if (fd < 0) return -1;
  std::lock_guard<std::mutex> lock(g_mutex);
  g_queues[fd] = Queue{};  // a reused number starts a fresh queue
  return fd;
}

int kevent(int kq, const struct kevent* changelist, int nchanges, struct kevent* eventlist,
           int nevents, const struct timespec* timeout) {
  if (nchanges < 0 || nevents < 0) {
    errno = EINVAL;
    return -1;
  }
  int out = 0;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_queues.find(kq);
    if (it == g_queues.end() || fcntl(kq, F_GETFD) < 0) {
      errno = EBADF;
      return -1;
    }
    Queue& q = it->second;
    // Changes first. A failed one is reported in the event list while it has room, else the
    // call fails with that errno and the changes after it are not applied (kevent(2)).
    for (int i = 0; i < nchanges; ++i) {
      int err = apply(q, changelist[i]);
      if (err == 0 && !(changelist[i].flags & EV_RECEIPT)) continue;
      if (out >= nevents) {
        if (err == 0) continue;
        errno = err;
        return -1;
      }
      eventlist[out] = changelist[i];
      eventlist[out].flags = EV_ERROR;
      eventlist[out].data = err;
      ++out;
    }
    if (out > 0 || nevents == 0) return out;  // errors are returned at once, without waiting
  }
  const int timeout_ms = to_ms(timeout);
  const int64_t deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
  for (int wait_ms = timeout_ms;;) {
    std::vector<Knote> polled;
    {
      std::lock_guard<std::mutex> lock(g_mutex);
      auto it = g_queues.find(kq);
      if (it == g_queues.end()) {
        errno = EBADF;
        return -1;
      }
      polled.assign(it->second.order.begin(), it->second.order.end());
    }
    std::vector<struct pollfd> fds;
    fds.reserve(polled.size());
    for (const Knote& k : polled) fds.push_back(pollfd{k.fd, poll_bits(k.filter), 0});
    // The lock is not held while waiting: another thread may change the queue, as with the kernel.
    int n = poll(fds.data(), fds.size(), wait_ms);
    if (n < 0) return -1;  // EINTR included: the caller retries with the time left
    if (n == 0) return 0;
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_queues.find(kq);
    if (it == g_queues.end()) return 0;  // closed while we waited
    Queue& q = it->second;
    for (size_t i = 0; i < fds.size(); ++i) {
      // find() drops a knote whose fd was closed (POLLNVAL) or now names another file.
      if (fds[i].revents == 0) continue;
      auto k = find(q, polled[i].fd, polled[i].filter);
      uint16_t flags;
      if (k == q.order.end() || out >= nevents || !fires(polled[i].filter, fds[i].revents, &flags)) continue;
      int avail = 0;
      if (polled[i].filter == EVFILT_READ) ioctl(polled[i].fd, FIONREAD, &avail);
      EV_SET(&eventlist[out], uintptr_t(polled[i].fd), polled[i].filter, flags, 0, avail, k->udata);
      ++out;
      q.order.splice(q.order.end(), q.order, k);  // re-queued behind the others
    }
    // Only knotes of closed fds woke poll: they are gone now, as close(2) would have removed
    // them before the wait; wait on for the time left.
    if (out > 0 || timeout_ms == 0) return out;
    if (timeout_ms > 0) {
      int64_t left = deadline - now_ms();
      if (left <= 0) return 0;
      wait_ms = int(left);
    }
  }
}
