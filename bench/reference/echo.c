/*
 * echo_ref — native reference echo server for the "echo" benchmark.
 *
 * What it measures: nothing by itself; it is the C baseline server that bench/loadgen drives
 * beside the library's servers, Node's net and Python's selectors, so their msgs/s, latency
 * and CPU per message can be compared with a tight, single-threaded epoll loop.
 *
 * Behaviour: listens on 127.0.0.1:P (P = 0 picks an ephemeral port), prints
 * "listening <port>\n" on stdout and flushes. One thread, level-triggered epoll, all sockets
 * non-blocking, accept4 until EAGAIN, TCP_NODELAY on accepted connections. Each readable
 * connection gets one recv of up to 64 KiB which is sent straight back; if the send is
 * partial the rest is kept in a per-connection buffer, the connection waits for EPOLLOUT
 * only (no reading) until the buffer is flushed, then goes back to EPOLLIN. EOF or an error
 * closes the connection. SIGTERM/SIGINT end the loop cleanly (exit 0).
 *
 * Usage: echo_ref --port P
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE (64 * 1024)
#define MAX_EVENTS 1024
#define LISTEN_TAG UINT64_MAX

struct conn {
    int fd;
    size_t pend_off, pend_len; /* unsent bytes: buf[pend_off .. pend_off + pend_len) */
    char *buf;                 /* allocated on first partial send, BUF_SIZE bytes */
};

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

static void usage(void)
{
    fprintf(stderr, "usage: echo_ref --port P\n");
    exit(2);
}

static void conn_close(int epfd, struct conn *c)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->buf);
    free(c);
}

static int set_interest(int epfd, struct conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    return epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Try to flush the pending buffer. Returns -1 on a fatal error, 0 otherwise. */
static int flush_pending(int epfd, struct conn *c)
{
    while (c->pend_len) {
        ssize_t n = send(c->fd, c->buf + c->pend_off, c->pend_len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            return -1;
        }
        c->pend_off += (size_t)n;
        c->pend_len -= (size_t)n;
    }
    c->pend_off = 0;
    return set_interest(epfd, c, EPOLLIN);
}

/* One recv, echo it back. Returns -1 when the connection must be closed. */
static int on_readable(int epfd, struct conn *c, char *rbuf)
{
    ssize_t n = recv(c->fd, rbuf, BUF_SIZE, 0);
    if (n == 0) return -1;
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
        return -1;
    }
    size_t off = 0, len = (size_t)n;
    while (len) {
        ssize_t w = send(c->fd, rbuf + off, len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) break;
            return -1;
        }
        off += (size_t)w;
        len -= (size_t)w;
    }
    if (len) {
        if (!c->buf && !(c->buf = malloc(BUF_SIZE))) return -1;
        memcpy(c->buf, rbuf + off, len);
        c->pend_off = 0;
        c->pend_len = len;
        return set_interest(epfd, c, EPOLLOUT);
    }
    return 0;
}

int main(int argc, char **argv)
{
    long port = -1;
    static const struct option opts[] = {{"port", required_argument, 0, 'p'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "p:", opts, NULL)) != -1) {
        if (ch != 'p') usage();
        char *end;
        port = strtol(optarg, &end, 10);
        if (*end || end == optarg || port < 0 || port > 65535) usage();
    }
    if (port < 0 || optind != argc) usage();

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    /* Block SIGINT/SIGTERM except inside epoll_pwait, so a signal cannot be lost
     * between checking `stop` and going to sleep. */
    sigset_t block, waitmask;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGINT);
    sigdelset(&waitmask, SIGTERM);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) {
        perror("socket");
        return 1;
    }
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, SOMAXCONN) < 0) {
        perror("bind/listen");
        return 1;
    }
    socklen_t alen = sizeof addr;
    if (getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) {
        perror("getsockname");
        return 1;
    }

    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) {
        perror("epoll_create1");
        return 1;
    }
    struct epoll_event lev = {.events = EPOLLIN, .data.u64 = LISTEN_TAG};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev) < 0) {
        perror("epoll_ctl");
        return 1;
    }

    printf("listening %u\n", ntohs(addr.sin_port));
    fflush(stdout);

    static char rbuf[BUF_SIZE];
    static struct epoll_event evs[MAX_EVENTS];
    while (!stop) {
        int n = epoll_pwait(epfd, evs, MAX_EVENTS, -1, &waitmask);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_pwait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.u64 == LISTEN_TAG) {
                for (;;) {
                    int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (cfd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED) continue;
                        if (errno != EAGAIN && errno != EWOULDBLOCK) perror("accept4");
                        break; /* EAGAIN, or EMFILE etc.: retry on the next wakeup */
                    }
                    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *c = calloc(1, sizeof *c);
                    if (!c) {
                        close(cfd);
                        continue;
                    }
                    c->fd = cfd;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    if (epoll_ctl(epfd, EPOLL_CTL_ADD, cfd, &ev) < 0) {
                        close(cfd);
                        free(c);
                    }
                }
                continue;
            }
            struct conn *c = evs[i].data.ptr;
            uint32_t e = evs[i].events;
            int rc = 0;
            if (c->pend_len) {
                if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) rc = flush_pending(epfd, c);
            } else if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                rc = on_readable(epfd, c, rbuf);
            }
            if (rc < 0) conn_close(epfd, c);
        }
    }

    close(epfd);
    close(lfd);
    return 0;
}
