/*
 * pipes_ref — native reference for the "pipes" benchmark (the libevent bench.c method).
 *
 * What it measures: the time one round of readiness dispatch takes over N registered
 * socketpairs of which A are active, using raw epoll, poll or select (--backend). It is the
 * "physical limit" the library and Python's selectors are compared against: a tight C loop
 * that makes the same real syscalls (one readiness wait per loop iteration, one 1-byte recv
 * per readiness, one 1-byte send per chained write).
 *
 * Method (as in libevent's test/bench.c):
 *   - N AF_UNIX SOCK_STREAM socketpairs, non-blocking, read ends all registered for READ
 *     (level-triggered) once, before any timing. Creation and registration are not timed.
 *   - Each round: fired = 0; for i in 0..A-1 send one byte to pair i*(N/A), fired++.
 *     Then count = 0, writes = W, start the clock, and loop one non-blocking readiness wait
 *     (timeout 0, like EVLOOP_ONCE|EVLOOP_NONBLOCK) after another until count == fired.
 *     The read handler for pair i receives its byte (count += bytes read) and, while
 *     writes > 0, sends one byte to pair (i+1) % N, writes--, fired++.
 *     So each round performs A + W reads and W chained writes; seeding is not timed,
 *     exactly like bench.c.
 *
 * --idle-thread starts one thread that only sleeps. It does no work, but the process is then
 * multi-threaded like every Node process, and Linux's fdget() takes a reference on the file
 * (two atomics) for every fd a syscall touches once the fd table is shared; single-threaded
 * programs skip that (fs/file.c, __fget_light). So "C + idle thread" is the same loop under the
 * kernel cost any Node addon pays, and iomux / that column is iomux's own overhead.
 *
 * --warmup-ms M first runs unrecorded rounds until M ms have passed: iomux's JavaScript is only
 * fully optimised after some tens of ms, and every implementation is warmed the same way.
 *
 * Usage: pipes_ref --backend epoll|poll|select --pairs N --active A --writes W --rounds R
 *                  [--idle-thread] [--warmup-ms M]
 * Output (stdout, one line):
 *   {"backend":..,"n":N,"a":A,"w":W,"rounds":R,"warmup_rounds":K,"us_per_round":[..],"failures":F}
 * Errors: {"error":"fd_setsize"} exit 3 (select with an fd >= FD_SETSIZE),
 *         {"error":"fd_limit"} exit 4 (EMFILE/ENFILE while creating socketpairs),
 *         usage errors exit 2.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum backend { B_EPOLL, B_POLL, B_SELECT };

static int num_pipes;
static int *rfds;         /* read end of pair i (registered) */
static int *wfds;         /* write end of pair i */
static long count;        /* bytes read this round */
static long fired;        /* bytes sent this round (seeds + chained writes) */
static long writes;       /* chained writes still allowed this round */
static long failures;

static void read_cb(int idx)
{
    unsigned char ch;
    ssize_t n = recv(rfds[idx], &ch, 1, 0);
    if (n >= 0)
        count += n;
    else if (errno != EAGAIN)
        failures++;
    if (writes) {
        int widx = idx + 1;
        if (widx >= num_pipes)
            widx -= num_pipes;
        /* A failed send is counted, not fired, so the round still terminates. */
        if (send(wfds[widx], "e", 1, 0) == 1)
            fired++;
        else
            failures++;
        writes--;
    }
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void *idle_thread(void *arg)
{
    for (;;)
        pause();
    return arg;
}

static void usage(void)
{
    fprintf(stderr, "usage: pipes_ref --backend epoll|poll|select --pairs N --active A "
                    "--writes W --rounds R [--idle-thread] [--warmup-ms M]\n");
    exit(2);
}

static long parse_long(const char *s, long min)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < min)
        usage();
    return v;
}

int main(int argc, char **argv)
{
    enum backend be = B_EPOLL;
    const char *be_name = "epoll";
    long num_active = 1, num_writes = 100, rounds = 25;
    num_pipes = 100;

    static const struct option opts[] = {
        {"backend", required_argument, 0, 'b'}, {"pairs", required_argument, 0, 'n'},
        {"active", required_argument, 0, 'a'},  {"writes", required_argument, 0, 'w'},
        {"rounds", required_argument, 0, 'r'},  {"idle-thread", no_argument, 0, 't'},
        {"warmup-ms", required_argument, 0, 'm'}, {0, 0, 0, 0}};
    int want_idle_thread = 0;
    long warmup_ms = 0;
    int c;
    while ((c = getopt_long(argc, argv, "b:n:a:w:r:tm:", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            be_name = optarg;
            if (!strcmp(optarg, "epoll")) be = B_EPOLL;
            else if (!strcmp(optarg, "poll")) be = B_POLL;
            else if (!strcmp(optarg, "select")) be = B_SELECT;
            else usage();
            break;
        case 'n': num_pipes = (int)parse_long(optarg, 1); break;
        case 'a': num_active = parse_long(optarg, 1); break;
        case 'w': num_writes = parse_long(optarg, 0); break;
        case 'r': rounds = parse_long(optarg, 1); break;
        case 't': want_idle_thread = 1; break;
        case 'm': warmup_ms = parse_long(optarg, 0); break;
        default: usage();
        }
    }
    if (optind != argc || num_active > num_pipes)
        usage();

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    pthread_t idle;
    if (want_idle_thread && pthread_create(&idle, NULL, idle_thread, NULL) != 0) {
        perror("pthread_create");
        return 1;
    }

    rfds = malloc(sizeof(int) * num_pipes);
    wfds = malloc(sizeof(int) * num_pipes);
    double *us = malloc(sizeof(double) * rounds);
    if (!rfds || !wfds || !us) {
        perror("malloc");
        return 1;
    }

    int maxfd = -1;
    for (int i = 0; i < num_pipes; i++) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
            if (errno == EMFILE || errno == ENFILE) {
                puts("{\"error\":\"fd_limit\"}");
                return 4;
            }
            perror("socketpair");
            return 1;
        }
        rfds[i] = sv[0];
        wfds[i] = sv[1];
        if (sv[0] > maxfd) maxfd = sv[0];
        if (sv[1] > maxfd) maxfd = sv[1];
        if (be == B_SELECT && maxfd >= FD_SETSIZE) {
            puts("{\"error\":\"fd_setsize\"}");
            return 3;
        }
    }

    /* Registration (untimed). */
    int epfd = -1;
    struct epoll_event *evs = NULL;
    enum { EP_BATCH = 1024 };
    struct pollfd *pfds = NULL;
    int *fd_to_idx = NULL;
    int sel_max = -1;

    if (be == B_EPOLL) {
        epfd = epoll_create1(EPOLL_CLOEXEC);
        evs = malloc(sizeof(*evs) * EP_BATCH);
        if (epfd < 0 || !evs) {
            perror("epoll_create1");
            return 1;
        }
        for (int i = 0; i < num_pipes; i++) {
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
            if (epoll_ctl(epfd, EPOLL_CTL_ADD, rfds[i], &ev) < 0) {
                perror("epoll_ctl");
                return 1;
            }
        }
    } else if (be == B_POLL) {
        pfds = malloc(sizeof(*pfds) * num_pipes);
        if (!pfds) {
            perror("malloc");
            return 1;
        }
        for (int i = 0; i < num_pipes; i++) {
            pfds[i].fd = rfds[i];
            pfds[i].events = POLLIN;
            pfds[i].revents = 0;
        }
    } else {
        fd_to_idx = malloc(sizeof(int) * FD_SETSIZE);
        if (!fd_to_idx) {
            perror("malloc");
            return 1;
        }
        for (int i = 0; i < num_pipes; i++) {
            fd_to_idx[rfds[i]] = i;
            if (rfds[i] > sel_max) sel_max = rfds[i];
        }
    }

    long space = num_pipes / num_active;
    /* Unrecorded warm-up rounds until warmup_ms have passed, then `rounds` recorded ones. */
    long warmup_rounds = 0;
    const double warm_until = now_us() + (double)warmup_ms * 1000;
    int warming = warmup_ms > 0;
    for (long r = 0; r < rounds;) {
        fired = 0;
        for (long i = 0; i < num_active; i++) {
            if (send(wfds[i * space], "e", 1, 0) == 1)
                fired++;
            else
                failures++;
        }
        count = 0;
        writes = num_writes;

        double t0 = now_us();
        do {
            if (be == B_EPOLL) {
                int n = epoll_wait(epfd, evs, EP_BATCH, 0);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    perror("epoll_wait");
                    return 1;
                }
                for (int k = 0; k < n; k++)
                    read_cb((int)evs[k].data.u32);
            } else if (be == B_POLL) {
                int n = poll(pfds, (nfds_t)num_pipes, 0);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    perror("poll");
                    return 1;
                }
                for (int i = 0; n > 0 && i < num_pipes; i++) {
                    if (pfds[i].revents) {
                        n--;
                        read_cb(i);
                    }
                }
            } else {
                fd_set rset;
                FD_ZERO(&rset);
                for (int i = 0; i < num_pipes; i++)
                    FD_SET(rfds[i], &rset);
                struct timeval tv = {0, 0};
                int n = select(sel_max + 1, &rset, NULL, NULL, &tv);
                if (n < 0) {
                    if (errno == EINTR) continue;
                    perror("select");
                    return 1;
                }
                for (int fd = 0; n > 0 && fd <= sel_max; fd++) {
                    if (FD_ISSET(fd, &rset)) {
                        n--;
                        read_cb(fd_to_idx[fd]);
                    }
                }
            }
        } while (count != fired);
        double t1 = now_us();
        if (warming) {
            warmup_rounds++;
            warming = t1 < warm_until;
            continue;
        }
        us[r++] = t1 - t0;
    }

    printf("{\"backend\":\"%s\",\"n\":%d,\"a\":%ld,\"w\":%ld,\"rounds\":%ld,\"warmup_rounds\":%ld,"
           "\"us_per_round\":[",
           be_name, num_pipes, num_active, num_writes, rounds, warmup_rounds);
    for (long r = 0; r < rounds; r++)
        printf("%s%.3f", r ? "," : "", us[r]);
    printf("],\"failures\":%ld}\n", failures);
    return failures ? 1 : 0;
}
