/*
 * loadgen — native load generator for the "echo" benchmark.
 *
 * What it measures: throughput (messages and MiB per second) and per-message round-trip
 * latency (p50/p99/p99.9) of an echo server, from one single-threaded epoll client driving
 * C connections that each keep K messages of S bytes in flight.
 *
 * Method:
 *   - Connect all C connections to host:port first (blocking connect, retrying on
 *     ECONNREFUSED for up to 2 s so a server that is still starting is waited for), set
 *     TCP_NODELAY and O_NONBLOCK, register them with epoll (level-triggered). Then start
 *     the clock: the first --warmup seconds are not counted, the next --duration seconds
 *     are the measurement window.
 *   - Message `seq` on connection `i` is S bytes: bytes 0-3 are seq (little endian),
 *     4-7 are i, the rest come from a fixed pseudo-random table at an offset that depends
 *     on (seq, i). Every echoed byte is compared with what was sent; a mismatch is reported
 *     on stderr (connection, message, offset, expected and received byte) and aborts the
 *     run (the JSON then carries "error":"mismatch" and the exit code is 2).
 *   - Latency of a message = CLOCK_MONOTONIC time its last byte is received back minus the
 *     time its first byte was handed to send(). It goes into a log-linear histogram
 *     (64 sub-buckets per power of two of nanoseconds, < 1.6 % error), so memory is fixed.
 *   - msgs = messages whose last byte came back inside the window; bytes = msgs * S (echoed
 *     payload, one direction); msgs_per_s and mib_per_s divide by the window length.
 *   - errors = connections lost (EOF, reset, other socket errors) plus mismatches; lost
 *     connections are dropped and the run goes on (exit code 1), a mismatch stops it
 *     (exit code 2). duration_s is the window actually measured (shorter than --duration
 *     only when the run was cut short).
 *
 * Usage: loadgen --host 127.0.0.1 --port P --conns C --size S --inflight K --duration D
 *                [--warmup W]         (D and W in seconds, may be fractional)
 * Output (stdout, one line):
 *   {"conns":C,"size":S,"inflight":K,"duration_s":D,"msgs":..,"bytes":..,"msgs_per_s":..,
 *    "mib_per_s":..,"p50_us":..,"p99_us":..,"p999_us":..,"errors":..}
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IO_BUF (256 * 1024)
#define MAX_EVENTS 1024
#define HDR 8

/* ---- latency histogram: log-linear over nanoseconds ---------------------------------- */

#define SUB_BITS 6
#define SUB (1u << SUB_BITS)
#define NBUCKETS (SUB * 64)

static uint64_t hist[NBUCKETS];
static uint64_t hist_total;

static unsigned bucket_of(uint64_t v)
{
    if (v < SUB) return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* e >= SUB_BITS */
    unsigned sub = (unsigned)(v >> (e - SUB_BITS)) & (SUB - 1);
    return (e - SUB_BITS + 1) * SUB + sub;
}

static double bucket_mid(unsigned b)
{
    if (b < SUB) return b;
    unsigned e = b / SUB + SUB_BITS - 1, sub = b % SUB;
    double width = (double)(1ull << (e - SUB_BITS));
    return (double)(SUB + sub) * width + width / 2;
}

static void hist_add(uint64_t ns)
{
    hist[bucket_of(ns)]++;
    hist_total++;
}

/* Value (microseconds) at quantile q, nearest-rank. */
static double hist_quantile_us(double q)
{
    if (!hist_total) return 0;
    double want = q * (double)hist_total;
    uint64_t rank = (uint64_t)want;
    if ((double)rank < want) rank++;
    if (rank < 1) rank = 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < NBUCKETS; b++) {
        seen += hist[b];
        if (seen >= rank) return bucket_mid(b) / 1000.0;
    }
    return bucket_mid(NBUCKETS - 1) / 1000.0;
}

/* ---- message pattern ------------------------------------------------------------------ */

static size_t msg_size;
static unsigned inflight;
static uint8_t *pattern; /* msg_size + 256 pseudo-random bytes */

static void pattern_init(void)
{
    pattern = malloc(msg_size + 256);
    if (!pattern) {
        perror("malloc");
        exit(1);
    }
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (size_t k = 0; k < msg_size + 256; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        pattern[k] = (uint8_t)(x >> 24);
    }
}

/* Write bytes [off, off+len) of message `seq` of connection `ci` to dst. */
static void gen(uint32_t ci, uint64_t seq, size_t off, size_t len, uint8_t *dst)
{
    size_t shift = (size_t)((seq * 131u + ci * 7u) & 255u);
    while (len && off < HDR) {
        uint32_t v = off < 4 ? (uint32_t)seq : ci;
        *dst++ = (uint8_t)(v >> (8 * (off & 3)));
        off++;
        len--;
    }
    if (len) memcpy(dst, pattern + shift + off, len);
}

/* ---- connections ---------------------------------------------------------------------- */

struct conn {
    int fd;
    uint32_t idx;
    int dead;
    int want_out;
    uint64_t tx_seq; /* message whose next byte is to be sent */
    size_t tx_off;
    uint64_t rx_seq; /* message whose next byte is expected */
    size_t rx_off;
    uint64_t *sent_ns; /* first-byte send time, indexed by seq % inflight */
};

static int epfd;
static uint64_t t_measure, t_end;
static uint64_t msgs, errors;
static uint8_t txbuf[IO_BUF], rxbuf[IO_BUF], expbuf[IO_BUF];
static int mismatch;
static long alive; /* connections not failed */

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void conn_fail(struct conn *c, const char *what, int err)
{
    if (c->dead) return;
    fprintf(stderr, "loadgen: conn %u: %s%s%s\n", c->idx, what, err ? ": " : "",
            err ? strerror(err) : "");
    errors++;
    alive--;
    c->dead = 1;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
}

static void set_out(struct conn *c, int on)
{
    if (c->want_out == on) return;
    struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
        conn_fail(c, "epoll_ctl", errno);
        return;
    }
    c->want_out = on;
}

/* Send as much as allowed: everything up to the end of message rx_seq + K - 1. */
static void try_send(struct conn *c)
{
    while (!c->dead) {
        uint64_t limit = c->rx_seq + inflight; /* first seq not allowed yet */
        if (c->tx_seq >= limit) {
            set_out(c, 0);
            return;
        }
        /* Fill txbuf from (tx_seq, tx_off). */
        size_t fill = 0;
        uint64_t s = c->tx_seq;
        size_t o = c->tx_off;
        while (s < limit && fill < IO_BUF) {
            size_t chunk = msg_size - o;
            if (chunk > IO_BUF - fill) chunk = IO_BUF - fill;
            gen(c->idx, s, o, chunk, txbuf + fill);
            fill += chunk;
            o += chunk;
            if (o == msg_size) {
                s++;
                o = 0;
            }
        }
        ssize_t n = send(c->fd, txbuf, fill, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_out(c, 1);
                return;
            }
            conn_fail(c, "send", errno);
            return;
        }
        uint64_t t = now_ns();
        size_t left = (size_t)n;
        while (left) {
            if (c->tx_off == 0) c->sent_ns[c->tx_seq % inflight] = t;
            size_t chunk = msg_size - c->tx_off;
            if (chunk > left) chunk = left;
            c->tx_off += chunk;
            left -= chunk;
            if (c->tx_off == msg_size) {
                c->tx_seq++;
                c->tx_off = 0;
            }
        }
        if ((size_t)n < fill) {
            set_out(c, 1);
            return;
        }
    }
}

static void on_readable(struct conn *c)
{
    ssize_t n = recv(c->fd, rxbuf, IO_BUF, 0);
    if (n == 0) {
        conn_fail(c, "server closed the connection", 0);
        return;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        conn_fail(c, "recv", errno);
        return;
    }
    uint64_t t = now_ns();
    size_t pos = 0, len = (size_t)n;
    while (pos < len) {
        /* Bytes of a message that has not been sent yet would be garbage from the server. */
        uint64_t sent_end = c->tx_seq * msg_size + c->tx_off;
        uint64_t got_end = c->rx_seq * msg_size + c->rx_off + (len - pos);
        size_t chunk = msg_size - c->rx_off;
        if (chunk > len - pos) chunk = len - pos;
        gen(c->idx, c->rx_seq, c->rx_off, chunk, expbuf);
        if (got_end > sent_end || memcmp(expbuf, rxbuf + pos, chunk) != 0) {
            size_t k = 0;
            while (k < chunk && expbuf[k] == rxbuf[pos + k]) k++;
            if (k == chunk) {
                fprintf(stderr, "loadgen: conn %u: received %llu bytes more than were sent\n",
                        c->idx, (unsigned long long)(got_end - sent_end));
            } else {
                fprintf(stderr,
                        "loadgen: MISMATCH conn %u message %llu offset %zu: expected 0x%02x, "
                        "received 0x%02x\n",
                        c->idx, (unsigned long long)c->rx_seq, c->rx_off + k, expbuf[k],
                        rxbuf[pos + k]);
            }
            errors++;
            mismatch = 1;
            return;
        }
        pos += chunk;
        c->rx_off += chunk;
        if (c->rx_off == msg_size) {
            if (t >= t_measure && t < t_end) {
                msgs++;
                hist_add(t - c->sent_ns[c->rx_seq % inflight]);
            }
            c->rx_seq++;
            c->rx_off = 0;
        }
    }
}

/* ---- main ----------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: loadgen --host 127.0.0.1 --port P --conns C --size S --inflight K "
                    "--duration D [--warmup W]\n");
    exit(2);
}

static long parse_long(const char *s, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < min || v > max) usage();
    return v;
}

static double parse_double(const char *s)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || end == s || !(v >= 0) || v > 1e6) usage();
    return v;
}

static int connect_one(const struct sockaddr_in *sa, uint64_t deadline)
{
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return -errno;
        if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) == 0) return fd;
        int err = errno;
        close(fd);
        if (err == EINTR) continue;
        if (err != ECONNREFUSED || now_ns() >= deadline) return -err;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    long port = -1, nconns = 1;
    double duration = 2, warmup = 0;
    msg_size = 64;
    inflight = 1;

    static const struct option opts[] = {
        {"host", required_argument, 0, 'h'},     {"port", required_argument, 0, 'p'},
        {"conns", required_argument, 0, 'c'},    {"size", required_argument, 0, 's'},
        {"inflight", required_argument, 0, 'k'}, {"duration", required_argument, 0, 'd'},
        {"warmup", required_argument, 0, 'w'},   {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "h:p:c:s:k:d:w:", opts, NULL)) != -1) {
        switch (ch) {
        case 'h': host = optarg; break;
        case 'p': port = parse_long(optarg, 1, 65535); break;
        case 'c': nconns = parse_long(optarg, 1, 1000000); break;
        case 's': msg_size = (size_t)parse_long(optarg, 1, 1L << 30); break;
        case 'k': inflight = (unsigned)parse_long(optarg, 1, 1L << 20); break;
        case 'd': duration = parse_double(optarg); break;
        case 'w': warmup = parse_double(optarg); break;
        default: usage();
        }
    }
    if (port < 0 || optind != argc || duration <= 0) usage();

    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "loadgen: --host must be an IPv4 address, got '%s'\n", host);
        return 2;
    }

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    signal(SIGPIPE, SIG_IGN);
    pattern_init();

    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct conn *conns = calloc((size_t)nconns, sizeof *conns);
    uint64_t *stamps = calloc((size_t)nconns * inflight, sizeof *stamps);
    if (epfd < 0 || !conns || !stamps) {
        perror("setup");
        return 1;
    }

    uint64_t deadline = now_ns() + 2000000000ull;
    int one = 1;
    for (long i = 0; i < nconns; i++) {
        int fd = connect_one(&sa, deadline);
        if (fd < 0) {
            fprintf(stderr, "loadgen: connect %s:%ld (connection %ld of %ld): %s\n", host, port,
                    i + 1, nconns, strerror(-fd));
            return 1;
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        struct conn *c = &conns[i];
        c->fd = fd;
        c->idx = (uint32_t)i;
        c->sent_ns = stamps + (size_t)i * inflight;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            perror("epoll_ctl");
            return 1;
        }
    }

    alive = nconns;
    uint64_t t_start = now_ns();
    t_measure = t_start + (uint64_t)(warmup * 1e9);
    t_end = t_measure + (uint64_t)(duration * 1e9);
    for (long i = 0; i < nconns; i++) try_send(&conns[i]);

    static struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        uint64_t t = now_ns();
        if (t >= t_end || mismatch || !alive) break;
        int timeout_ms = (int)((t_end - t + 999999) / 1000000);
        int n = epoll_wait(epfd, evs, MAX_EVENTS, timeout_ms);
        if (n < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int k = 0; k < n && !mismatch; k++) {
            struct conn *c = evs[k].data.ptr;
            if (c->dead) continue;
            uint32_t e = evs[k].events;
            if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(c);
            if (!c->dead && !mismatch) try_send(c);
        }
    }

    /* The window actually measured: shorter than --duration only if the run was cut short. */
    uint64_t t_stop = now_ns();
    if (t_stop > t_end) t_stop = t_end;
    double window = t_stop > t_measure ? (double)(t_stop - t_measure) / 1e9 : 0;
    double mib = (double)msgs * (double)msg_size / (1024.0 * 1024.0);
    printf("{\"conns\":%ld,\"size\":%zu,\"inflight\":%u,\"duration_s\":%.6f,\"msgs\":%llu,"
           "\"bytes\":%llu,\"msgs_per_s\":%.1f,\"mib_per_s\":%.3f,\"p50_us\":%.2f,"
           "\"p99_us\":%.2f,\"p999_us\":%.2f,\"errors\":%llu%s}\n",
           nconns, msg_size, inflight, window, (unsigned long long)msgs,
           (unsigned long long)(msgs * msg_size), window > 0 ? (double)msgs / window : 0,
           window > 0 ? mib / window : 0,
           hist_quantile_us(0.50), hist_quantile_us(0.99), hist_quantile_us(0.999),
           (unsigned long long)errors, mismatch ? ",\"error\":\"mismatch\"" : "");
    fflush(stdout);
    for (long i = 0; i < nconns; i++)
        if (!conns[i].dead) close(conns[i].fd);
    return mismatch ? 2 : errors ? 1 : 0;
}
