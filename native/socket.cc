#include "socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "sys.h"

// Which creation path this build takes. Linux and the BSDs have accept4, pipe2 and the
// SOCK_NONBLOCK/SOCK_CLOEXEC type flags; macOS has none of them. IOMUX_PORTABLE (binding.gyp
// -Dportable=1) forces the fallback on Linux so that the test suite runs the code macOS would.
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC) && !defined(IOMUX_PORTABLE) && \
    (defined(__linux__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__))
#define IOMUX_USE_ATOMIC_FLAGS 1
#else
#define IOMUX_USE_ATOMIC_FLAGS 0
#endif

// SIGPIPE: MSG_NOSIGNAL where the system has it (Linux, the BSDs); elsewhere (macOS) every socket
// gets SO_NOSIGPIPE at creation (set_nonblock_cloexec). IOMUX_PORTABLE keeps MSG_NOSIGNAL on Linux,
// which has no SO_NOSIGPIPE: without either, a send to a closed peer raises SIGPIPE (seen in the
// connection-errors suite when the flag was dropped there).
#if defined(MSG_NOSIGNAL)
#define IOMUX_SEND_FLAGS MSG_NOSIGNAL
#else
#define IOMUX_SEND_FLAGS 0
#endif

namespace iomux {
namespace {

// Fills `storage` from `addr`; returns the sockaddr length or -errno (EINVAL for text that is not
// a numeric address, ENAMETOOLONG for a Unix path that does not fit sun_path).
int to_sockaddr(const SocketAddress& addr, sockaddr_storage* storage) {
  std::memset(storage, 0, sizeof(*storage));
  if (addr.family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(storage);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(uint16_t(addr.port));
    if (inet_pton(AF_INET, addr.host.c_str(), &sin->sin_addr) != 1) return -EINVAL;
    return sizeof(sockaddr_in);
  }
  if (addr.family == AF_INET6) {
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(storage);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(uint16_t(addr.port));
    if (inet_pton(AF_INET6, addr.host.c_str(), &sin6->sin6_addr) != 1) return -EINVAL;
    return sizeof(sockaddr_in6);
  }
  if (addr.family == AF_UNIX) {
    auto* sun = reinterpret_cast<sockaddr_un*>(storage);
    sun->sun_family = AF_UNIX;
    if (addr.host.size() >= sizeof(sun->sun_path)) return -ENAMETOOLONG;
    std::memcpy(sun->sun_path, addr.host.data(), addr.host.size());
    return int(offsetof(sockaddr_un, sun_path) + addr.host.size() + 1);
  }
  return -EAFNOSUPPORT;
}

int from_sockaddr(const sockaddr_storage& storage, socklen_t len, SocketAddress* out) {
  char text[INET6_ADDRSTRLEN] = {0};
  out->family = storage.ss_family;
  if (storage.ss_family == AF_INET) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
    out->host = text;
    out->port = ntohs(sin->sin_port);
  } else if (storage.ss_family == AF_INET6) {
    auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&storage);
    inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
    out->host = text;
    out->port = ntohs(sin6->sin6_port);
  } else if (storage.ss_family == AF_UNIX) {
    auto* sun = reinterpret_cast<const sockaddr_un*>(&storage);
    size_t path_len =
        len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
    out->host.assign(sun->sun_path, strnlen(sun->sun_path, path_len));
    out->port = 0;
  } else {
    out->family = AF_UNSPEC;  // an unbound socket
  }
  return 0;
}

int ok_or_errno(int rc) { return rc < 0 ? neg_errno() : rc; }
ssize_t ok_or_errno(ssize_t rc) { return rc < 0 ? ssize_t(neg_errno()) : rc; }

#if !IOMUX_USE_ATOMIC_FLAGS
// The fallback for systems without SOCK_NONBLOCK/accept4/pipe2 (macOS): the flags are set with
// fcntl right after creation. Between the two calls a fork+exec in another thread could inherit
// the fd; that race is the price of the platform, and Node's own libuv pays it there too.
// Returns 0, or -errno after closing `fd` so that the caller never leaks it.
int set_nonblock_cloexec(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
    int err = neg_errno();
    ::close(fd);
    return err;
  }
#if defined(SO_NOSIGPIPE)
  // Without MSG_NOSIGNAL a write to a reset socket raises SIGPIPE unless the socket says not to.
  // Pipes and non-sockets answer ENOTSOCK here, which is fine: they are never sent to.
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
  return 0;
}

// Applies set_nonblock_cloexec to a fresh fd (or passes on a failure's -errno).
int finish_fd(int rc) {
  if (rc < 0) return neg_errno();
  int err = set_nonblock_cloexec(rc);
  return err < 0 ? err : rc;
}

// pipe() and socketpair() without the atomic flags: set them on both ends, closing both on error.
int finish_pair(int rc, int fds[2]) {
  if (rc < 0) return neg_errno();
  int err = set_nonblock_cloexec(fds[0]);
  if (err < 0) {
    ::close(fds[1]);
    return err;
  }
  err = set_nonblock_cloexec(fds[1]);
  if (err < 0) {
    ::close(fds[0]);
    return err;
  }
  return 0;
}
#endif  // !IOMUX_USE_ATOMIC_FLAGS

}  // namespace

int sock_open(int family, int type) {
#if IOMUX_USE_ATOMIC_FLAGS
  return ok_or_errno(socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
#else
  return finish_fd(socket(family, type, 0));
#endif
}

int sock_bind(int fd, const SocketAddress& addr) {
  sockaddr_storage storage;
  int len = to_sockaddr(addr, &storage);
  if (len < 0) return len;
  return ok_or_errno(bind(fd, reinterpret_cast<sockaddr*>(&storage), socklen_t(len)));
}

int sock_listen(int fd, int backlog) { return ok_or_errno(listen(fd, backlog)); }

int sock_accept(int fd) {
  for (;;) {
#if IOMUX_USE_ATOMIC_FLAGS
    int rc = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (rc >= 0 || errno != EINTR) return ok_or_errno(rc);
#else
    int rc = accept(fd, nullptr, nullptr);
    if (rc >= 0 || errno != EINTR) return finish_fd(rc);
#endif
  }
}

// A non-blocking connect usually answers EINPROGRESS; the caller waits for writability and then
// reads SO_ERROR. EINTR means the same thing here (connect(2): the attempt goes on).
int sock_connect(int fd, const SocketAddress& addr) {
  sockaddr_storage storage;
  int len = to_sockaddr(addr, &storage);
  if (len < 0) return len;
  int rc = connect(fd, reinterpret_cast<sockaddr*>(&storage), socklen_t(len));
  if (rc < 0 && errno == EINTR) return -EINPROGRESS;
  return ok_or_errno(rc);
}

ssize_t sock_recv(int fd, uint8_t* buf, size_t len) {
  for (;;) {
    ssize_t n = recv(fd, buf, len, 0);
    if (n >= 0 || errno != EINTR) return ok_or_errno(n);
  }
}

// MSG_NOSIGNAL: a peer that went away gives EPIPE, never a process-killing SIGPIPE. Where it is
// missing, SO_NOSIGPIPE (set at creation, see set_nonblock_cloexec) does the same job.
ssize_t sock_send(int fd, const uint8_t* buf, size_t len) {
  for (;;) {
    ssize_t n = send(fd, buf, len, IOMUX_SEND_FLAGS);
    if (n >= 0 || errno != EINTR) return ok_or_errno(n);
  }
}

ssize_t fd_read(int fd, uint8_t* buf, size_t len) {
  for (;;) {
    ssize_t n = read(fd, buf, len);
    if (n >= 0 || errno != EINTR) return ok_or_errno(n);
  }
}

ssize_t fd_write(int fd, const uint8_t* buf, size_t len) {
  for (;;) {
    ssize_t n = write(fd, buf, len);
    if (n >= 0 || errno != EINTR) return ok_or_errno(n);
  }
}

int sock_shutdown(int fd, int how) { return ok_or_errno(shutdown(fd, how)); }

// Bytes sent but not yet acknowledged by the peer, plus those not yet sent: SIOCOUTQ on Linux
// (tcp(7), unix(7); the same number as TIOCOUTQ), SO_NWRITE on macOS.
int sock_outq(int fd) {
  int n = 0;
#if defined(SO_NWRITE)
  socklen_t len = sizeof(n);
  if (getsockopt(fd, SOL_SOCKET, SO_NWRITE, &n, &len) < 0) return -errno;
#elif defined(TIOCOUTQ)
  if (ioctl(fd, TIOCOUTQ, &n) < 0) return -errno;
#else
  return -ENOTSUP;
#endif
  return n;
}

// close(2) is not retried on EINTR: on Linux the fd is released even then.
int fd_close(int fd) { return ok_or_errno(close(fd)); }

int sock_setopt(int fd, int level, int name, int value) {
  return ok_or_errno(setsockopt(fd, level, name, &value, sizeof(value)));
}

int sock_getopt(int fd, int level, int name, int* value) {
  socklen_t len = sizeof(*value);
  return ok_or_errno(getsockopt(fd, level, name, value, &len));
}

int sock_name(int fd, bool peer, SocketAddress* out) {
  sockaddr_storage storage;
  socklen_t len = sizeof(storage);
  std::memset(&storage, 0, sizeof(storage));
  int rc = peer ? getpeername(fd, reinterpret_cast<sockaddr*>(&storage), &len)
                : getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &len);
  if (rc < 0) return neg_errno();
  return from_sockaddr(storage, len, out);
}

int make_pipe(int fds[2]) {
#if IOMUX_USE_ATOMIC_FLAGS
  return ok_or_errno(pipe2(fds, O_NONBLOCK | O_CLOEXEC));
#else
  return finish_pair(pipe(fds), fds);
#endif
}

int make_socketpair(int fds[2]) {
#if IOMUX_USE_ATOMIC_FLAGS
  return ok_or_errno(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds));
#else
  return finish_pair(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), fds);
#endif
}

namespace {

std::atomic<int> g_wake_fd[NSIG];
struct sigaction g_previous[NSIG];
bool g_watched[NSIG];

void on_signal(int signo) {
  int saved = errno;  // the interrupted code may be between a syscall and its errno check
  int fd = g_wake_fd[signo].load(std::memory_order_relaxed);
  if (fd >= 0) {
    uint8_t byte = uint8_t(signo);
    ssize_t ignored = write(fd, &byte, 1);  // a full pipe already guarantees a wake-up
    (void)ignored;
  }
  errno = saved;
}

}  // namespace

int signal_watch(int signo, int wake_fd) {
  if (signo <= 0 || signo >= NSIG) return -EINVAL;
  g_wake_fd[signo].store(wake_fd);
  if (g_watched[signo]) return 0;
  struct sigaction action;
  std::memset(&action, 0, sizeof(action));
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  if (sigaction(signo, &action, &g_previous[signo]) < 0) {
    g_wake_fd[signo].store(-1);
    return neg_errno();
  }
  g_watched[signo] = true;
  return 0;
}

int signal_unwatch(int signo) {
  if (signo <= 0 || signo >= NSIG) return -EINVAL;
  if (!g_watched[signo]) return -ENOENT;
  if (sigaction(signo, &g_previous[signo], nullptr) < 0) return neg_errno();
  g_watched[signo] = false;
  g_wake_fd[signo].store(-1);
  return 0;
}

// Datagrams. sendto with MSG_NOSIGNAL as sock_send does; an address with family 0 sends to the
// connected peer. recvfrom fills `from` with the sender (numeric), as sock_name does.
ssize_t sock_sendto(int fd, const uint8_t* buf, size_t len, const SocketAddress& to) {
  sockaddr_storage storage;
  socklen_t addr_len = 0;
  if (to.family != 0) {
    int rc = to_sockaddr(to, &storage);
    if (rc < 0) return rc;
    addr_len = socklen_t(rc);
  }
  for (;;) {
    ssize_t n = sendto(fd, buf, len, MSG_NOSIGNAL,
                       addr_len ? reinterpret_cast<sockaddr*>(&storage) : nullptr, addr_len);
    if (n >= 0 || errno != EINTR) return ok_or_errno(n);
  }
}

ssize_t sock_recvfrom(int fd, uint8_t* buf, size_t len, SocketAddress* from) {
  sockaddr_storage storage;
  for (;;) {
    socklen_t addr_len = sizeof(storage);
    std::memset(&storage, 0, sizeof(storage));
    ssize_t n = recvfrom(fd, buf, len, 0, reinterpret_cast<sockaddr*>(&storage), &addr_len);
    if (n >= 0) {
      from_sockaddr(storage, addr_len, from);
      return n;
    }
    if (errno != EINTR) return neg_errno();
  }
}

}  // namespace iomux
