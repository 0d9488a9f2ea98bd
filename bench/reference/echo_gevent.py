#!/usr/bin/env python3
"""echo_gevent.py — gevent StreamServer echo server, a reference for the "echo" benchmark.

What it measures: nothing by itself; it is the classic gevent echo (one greenlet per
connection, blocking-style recv/sendall that switch to the hub while they would block),
run by bench/loadgen beside the library's servers, so iomux's async/await style ("switch
on I/O, like gevent") can be read against gevent itself.

Behaviour: listens on 127.0.0.1:P (P = 0 picks an ephemeral port), prints "listening
<port>" on stdout and flushes. gevent.server.StreamServer accepts; each connection's
greenlet sets TCP_NODELAY, then loops recv(64 KiB) and sendall() of what it got, so it
reads nothing more until its last echo is in the kernel. EOF or a socket error ends the
greenlet and closes the connection. No monkey-patching: only gevent's own sockets are
used. SIGTERM/SIGINT stop the server and exit 0.

Needs the gevent module (Debian: apt-get install python3-gevent); the bench finds an
interpreter that has it (bench/report/python.ts) or skips this server with a note.

Usage: echo_gevent.py --port P
"""
import signal
import socket
import sys

import gevent
from gevent.event import Event
from gevent.server import StreamServer

from echo_common import port_and_fd_limit

BUF_SIZE = 64 * 1024


def handle(sock, _address):
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    recv, sendall = sock.recv, sock.sendall
    try:
        while True:
            data = recv(BUF_SIZE)
            if not data:
                return
            sendall(data)
    except OSError:
        return  # a reset from the client is not the server's failure
    finally:
        sock.close()


def main():
    port = port_and_fd_limit(__doc__)

    server = StreamServer(("127.0.0.1", port), handle, backlog=socket.SOMAXCONN)
    server.start()
    print(f"listening {server.server_port}", flush=True)

    # gevent's own signal watcher (its docs ask for it instead of signal.signal): the handler
    # runs from the hub's loop, where it may switch greenlets.
    done = Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        gevent.signal_handler(sig, done.set)
    done.wait()
    server.stop(timeout=1)
    sys.exit(0)


if __name__ == "__main__":
    main()
