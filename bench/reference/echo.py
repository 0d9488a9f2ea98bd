#!/usr/bin/env python3
"""echo.py — Python `selectors` reference echo server for the "echo" benchmark.

What it measures: nothing by itself; it is the Python baseline server that bench/loadgen
drives beside the library's servers, Node's net and the C epoll server (echo.c), so their
msgs/s, latency and CPU per message can be compared.

Behaviour (same as bench/reference/echo.c): listens on 127.0.0.1:P (P = 0 picks an
ephemeral port), prints "listening <port>" on stdout and flushes. One thread,
selectors.DefaultSelector (level-triggered), non-blocking sockets, accept until
BlockingIOError, TCP_NODELAY on accepted connections. Each readable connection gets one
recv of up to 64 KiB which is sent straight back; if the send is partial the rest is kept
and the connection waits for EVENT_WRITE only (no reading) until it is flushed, then goes
back to EVENT_READ. EOF or an error closes the connection. SIGTERM/SIGINT end the loop
cleanly (exit 0).

Usage: echo.py --port P
"""
import selectors
import signal
import socket
import sys

from echo_common import port_and_fd_limit

BUF_SIZE = 64 * 1024


class Conn:
    __slots__ = ("sock", "pending")

    def __init__(self, sock):
        self.sock = sock
        self.pending = None  # memoryview of unsent bytes, or None


def main():
    port = port_and_fd_limit(__doc__)

    sel = selectors.DefaultSelector()

    # Signals: the handlers do nothing; the wakeup fd makes the selector return and
    # the loop sees the flag. (PEP 475 would otherwise retry select() silently.)
    stop = False
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)

    def on_signal(_signum, _frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sel.register(wake_r, selectors.EVENT_READ, None)

    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", port))
    lsock.listen(socket.SOMAXCONN)
    lsock.setblocking(False)
    sel.register(lsock, selectors.EVENT_READ, lsock)
    print(f"listening {lsock.getsockname()[1]}", flush=True)

    EVENT_READ, EVENT_WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE

    def close(conn):
        sel.unregister(conn.sock)
        conn.sock.close()

    def on_accept():
        while True:
            try:
                sock, _ = lsock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as e:  # EMFILE etc.: try again on the next wakeup
                print(f"accept: {e}", file=sys.stderr)
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = Conn(sock)
            sel.register(sock, EVENT_READ, conn)

    def on_readable(conn):
        sock = conn.sock
        try:
            data = sock.recv(BUF_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            close(conn)
            return
        if not data:
            close(conn)
            return
        try:
            n = sock.send(data)
        except (BlockingIOError, InterruptedError):
            n = 0
        except OSError:
            close(conn)
            return
        if n < len(data):
            conn.pending = memoryview(data)[n:]
            sel.modify(sock, EVENT_WRITE, conn)

    def on_writable(conn):
        try:
            n = conn.sock.send(conn.pending)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            close(conn)
            return
        if n < len(conn.pending):
            conn.pending = conn.pending[n:]
            return
        conn.pending = None
        sel.modify(conn.sock, EVENT_READ, conn)

    while not stop:
        for key, events in sel.select():
            data = key.data
            if data is None:  # signal wakeup
                try:
                    while wake_r.recv(4096):
                        pass
                except BlockingIOError:
                    pass
            elif data is lsock:
                on_accept()
            elif data.pending is not None:
                on_writable(data)
            else:
                on_readable(data)

    for key in list(sel.get_map().values()):
        if isinstance(key.data, Conn):
            key.data.sock.close()
    sel.close()
    lsock.close()
    signal.set_wakeup_fd(-1)
    wake_w.close()
    wake_r.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
