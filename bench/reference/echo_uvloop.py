#!/usr/bin/env python3
"""echo_uvloop.py — asyncio Protocol echo server on uvloop, a reference for the "echo" benchmark.

What it measures: nothing by itself; it is what a Python program gets from asyncio's
Protocol/Transport API with libuv underneath (uvloop), run by bench/loadgen beside the
library's servers, so iomux's protocol style can be read against the best-known asyncio loop.

Behaviour (the same as iomux's protocol style, src/echo/protocol.ts): listens on
127.0.0.1:P (P = 0 picks an ephemeral port), prints "listening <port>" on stdout and
flushes. One thread, one uvloop event loop. Every chunk data_received() gets is written
straight back with transport.write(); when the transport's buffer passes its high-water
mark (pause_writing) the connection stops reading until it drains (resume_writing).
TCP_NODELAY on accepted connections, as every server in the benchmark sets it. EOF closes
the connection. SIGTERM/SIGINT close the server and exit 0.

Needs the uvloop module (Debian: apt-get install python3-uvloop); the bench finds an
interpreter that has it (bench/report/python.ts) or skips this server with a note.

Usage: echo_uvloop.py --port P
"""
import asyncio
import signal
import socket
import sys

import uvloop

from echo_common import port_and_fd_limit


class Echo(asyncio.Protocol):
    __slots__ = ("transport",)

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data):
        self.transport.write(data)

    def eof_received(self):
        return False  # let the transport close

    def pause_writing(self):
        self.transport.pause_reading()

    def resume_writing(self):
        self.transport.resume_reading()


async def serve(port):
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: done.done() or done.set_result(None))
    server = await loop.create_server(Echo, "127.0.0.1", port, backlog=socket.SOMAXCONN, reuse_address=True)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    await done
    server.close()


def main():
    port = port_and_fd_limit(__doc__)

    # new_event_loop() rather than uvloop.run() (0.18+; Debian 12 ships 0.17) or install()
    # (deprecated since 0.18): the one spelling old and new uvloops share.
    loop = uvloop.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(serve(port))
    finally:
        loop.close()
    sys.exit(0)


if __name__ == "__main__":
    main()
