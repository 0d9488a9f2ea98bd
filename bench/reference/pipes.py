#!/usr/bin/env python3
"""pipes.py — Python `selectors` reference for the "pipes" benchmark (libevent bench.c method).

What it measures: the time one round of readiness dispatch takes over N registered
socketpairs of which A are active, through Python's standard `selectors` module
(SelectSelector / PollSelector / EpollSelector chosen by --backend). It is the same method
and output as bench/reference/pipes.c, so the two (and the library) can be compared.

Method (as in libevent's test/bench.c):
  - N AF_UNIX SOCK_STREAM socketpairs, non-blocking, read ends all registered for
    EVENT_READ once, before any timing (creation and registration are not timed).
  - Each round: seed one byte into pair i*(N//A) for i in range(A) (fired = A); then
    count = 0, writes = W, start the clock, and call select(timeout=0) repeatedly until
    count == fired. The read handler for pair i receives its byte (count += bytes read)
    and, while writes > 0, sends one byte to pair (i+1) % N, writes -= 1, fired += 1.
    Seeding is not timed, exactly like bench.c.

--warmup-ms M first runs unrecorded rounds until M ms have passed, as pipes.c does.

Usage: pipes.py --backend epoll|poll|select --pairs N --active A --writes W --rounds R
                [--warmup-ms M]
Output (stdout, one line):
  {"backend":..,"n":N,"a":A,"w":W,"rounds":R,"warmup_rounds":K,"us_per_round":[..],"failures":F}
Errors: {"error":"fd_setsize"} exit 3 (select with an fd >= FD_SETSIZE = 1024),
        {"error":"fd_limit"} exit 4 (EMFILE/ENFILE while creating socketpairs).
"""
import argparse
import errno
import json
import resource
import selectors
import socket
import sys
import time

FD_SETSIZE = 1024  # glibc's value; select.select() refuses larger fds

BACKENDS = {
    "epoll": getattr(selectors, "EpollSelector", None),
    "poll": getattr(selectors, "PollSelector", None),
    "select": selectors.SelectSelector,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backend", choices=sorted(BACKENDS), default="epoll")
    ap.add_argument("--pairs", type=int, default=100)
    ap.add_argument("--active", type=int, default=1)
    ap.add_argument("--writes", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=25)
    ap.add_argument("--warmup-ms", type=float, default=0)
    args = ap.parse_args()
    n, a, w, rounds = args.pairs, args.active, args.writes, args.rounds
    if n < 1 or a < 1 or a > n or w < 0 or rounds < 1:
        ap.error("need 1 <= active <= pairs, writes >= 0, rounds >= 1")
    cls = BACKENDS[args.backend]
    if cls is None:
        ap.error(f"backend {args.backend} not available here")

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    rsocks = []
    wsocks = []
    for _ in range(n):
        try:
            r, s = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        except OSError as e:
            if e.errno in (errno.EMFILE, errno.ENFILE):
                print(json.dumps({"error": "fd_limit"}, separators=(",", ":")), flush=True)
                sys.exit(4)
            raise
        r.setblocking(False)
        s.setblocking(False)
        rsocks.append(r)
        wsocks.append(s)
        if args.backend == "select" and max(r.fileno(), s.fileno()) >= FD_SETSIZE:
            print(json.dumps({"error": "fd_setsize"}, separators=(",", ":")), flush=True)
            sys.exit(3)

    sel = cls()
    for i, r in enumerate(rsocks):
        sel.register(r, selectors.EVENT_READ, i)

    count = fired = writes = failures = 0

    def read_cb(idx):
        nonlocal count, fired, writes, failures
        try:
            count += len(rsocks[idx].recv(1))
        except BlockingIOError:
            pass
        except OSError:
            failures += 1
        if writes:
            widx = idx + 1
            if widx >= n:
                widx -= n
            try:
                if wsocks[widx].send(b"e") == 1:
                    fired += 1
                else:
                    failures += 1
            except OSError:
                failures += 1
            writes -= 1

    space = n // a
    us = []
    select = sel.select
    clock = time.perf_counter
    warmup_rounds = 0
    warming = args.warmup_ms > 0
    warm_until = clock() + args.warmup_ms / 1e3
    while len(us) < rounds:
        fired = 0
        for i in range(a):
            try:
                wsocks[i * space].send(b"e")
                fired += 1
            except OSError:
                failures += 1
        count = 0
        writes = w
        t0 = clock()
        while True:
            for key, _ev in select(0):
                read_cb(key.data)
            if count == fired:
                break
        t1 = clock()
        if warming:
            warmup_rounds += 1
            warming = t1 < warm_until
            continue
        us.append(round((t1 - t0) * 1e6, 3))

    out = {"backend": args.backend, "n": n, "a": a, "w": w, "rounds": rounds,
           "warmup_rounds": warmup_rounds, "us_per_round": us, "failures": failures}
    print(json.dumps(out, separators=(",", ":")), flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
