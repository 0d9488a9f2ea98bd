// Thin socket and pipe syscalls. Every fd is created O_NONBLOCK|O_CLOEXEC; every failure comes
// back as -errno. No N-API here: binding_socket.cc turns JS values into these calls.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace iomux {

struct SocketAddress {
  int family = 0;    // AF_INET, AF_INET6 or AF_UNIX
  std::string host;  // numeric IP text for inet families, the path for AF_UNIX
  int port = 0;
};

int sock_open(int family, int type);
int sock_bind(int fd, const SocketAddress& addr);
int sock_listen(int fd, int backlog);
int sock_accept(int fd);
int sock_connect(int fd, const SocketAddress& addr);
ssize_t sock_recv(int fd, uint8_t* buf, size_t len);
ssize_t sock_send(int fd, const uint8_t* buf, size_t len);
ssize_t fd_read(int fd, uint8_t* buf, size_t len);
ssize_t fd_write(int fd, const uint8_t* buf, size_t len);
int sock_shutdown(int fd, int how);
int sock_outq(int fd);
int fd_close(int fd);
int sock_setopt(int fd, int level, int name, int value);
int sock_getopt(int fd, int level, int name, int* value);
int sock_name(int fd, bool peer, SocketAddress* out);
int make_pipe(int fds[2]);
int make_socketpair(int fds[2]);

// Signals: the handler writes the signal number as one byte to `wake_fd`, so a loop blocked in
// its selector wakes up (Python's signal.set_wakeup_fd idea). The previous disposition is kept
// and restored by signal_unwatch.
int signal_watch(int signo, int wake_fd);
int signal_unwatch(int signo);

// Datagrams: sendto (family 0 in `to`: the connected peer) and recvfrom; -errno on failure.
ssize_t sock_sendto(int fd, const uint8_t* buf, size_t len, const SocketAddress& to);
ssize_t sock_recvfrom(int fd, uint8_t* buf, size_t len, SocketAddress* from);

}  // namespace iomux
