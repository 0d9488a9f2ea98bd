// The public Loop: the core (loop-core.ts: fd tables, ready queue, timers, run/stop/close,
// attach, signals) plus asyncio's methods on sockets, transports, streams, datagrams and names.
// The code behind them lives in aio.ts, transports.ts, pipe-transports.ts, streams.ts,
// datagram.ts and names.ts; these are one-line delegates under asyncio's names, so the core file
// stays the size of what each iteration runs.
import { LoopCore } from './loop-core.js';
import * as aio from './aio.js';
import * as aioDatagram from './aio-datagram.js';
import * as transports from './transports.js';
import * as pipes from './pipe-transports.js';
import * as streams from './streams.js';
import * as datagram from './datagram.js';
import * as names from './names.js';
import type { Address, HostPort, ReceivedDatagram, Socket } from './socket.js';
import type { ConnectOptions, ListenOptions, Protocol, Server, Transport } from './transports.js';
import type { WaitOptions } from './wait-options.js';
import type { PipeEnd } from './pipe.js';
import type { StreamReader, StreamWriter } from './streams.js';
import type { DatagramEndpointOptions, DatagramProtocol, DatagramTransport } from './datagram.js';
import type { LookupOptions, ResolvedAddress } from './names.js';

export { Handle, LoopCore } from './loop-core.js';
export type { ExceptionContext, ExceptionHandler, LoopOptions } from './loop-core.js';

/**
 * An event loop over one selector: readers and writers on fds, callbacks, timers and signals,
 * and asyncio's async/await, transport, stream, datagram and name methods.
 * `run()` owns the thread while it waits in the selector: Node's own timers and I/O wait until it
 * returns, but promise continuations started by loop callbacks always make progress.
 */
export class Loop extends LoopCore {
  /**
   * Closes the selector and the wake-up pipe, restores the signal dispositions it replaced and
   * drops every callback; pending async/await calls reject with ERR_LOOP_CLOSED. Closing twice
   * does nothing. After it, every other method throws ERR_LOOP_CLOSED.
   * @throws ERR_LOOP_RUNNING (close from inside run(): stop() first)
   */
  override close(): void {
    if (this.closed) return;
    super.close();
    // Nothing will wake the async/await calls still waiting: reject them and free their sockets.
    aio.loopClosed(this);
  }

  // ---- async/await on sockets and transports (DESIGN §1) -------------------------------------
  // The code lives in aio.ts and transports.ts; these one-line delegates give them asyncio's names.

  // Every sock* method takes a last optional { signal, timeout } (wait-options.ts): an abort
  // rejects with an AbortError (code ABORT_ERR, cause = the signal's reason), a timeout with
  // ETIMEDOUT; either way nothing is consumed and the socket stays usable.
  // Fairness: after a few operations in a row on one socket that completed at once, the next one
  // yields to the loop first (aio.ts), so a connection whose I/O is always ready cannot hold up
  // the others.

  /**
   * Reads up to `n` bytes; resolves with a new Buffer (empty at EOF). Tries the read first and
   * waits for readability only if nothing is there. Every failure is a rejection.
   * @throws (rejects) ERR_INVALID_ARG_TYPE (not a Socket), ERR_INVALID_ARG_VALUE (`n` not a
   *   positive integer, or another read already waits on this socket), ERR_SOCKET_CLOSED (closed
   *   before or while waiting), ERR_LOOP_CLOSED, ABORT_ERR, ETIMEDOUT, or a system error from
   *   recv such as ECONNRESET
   */
  sockRecv(s: Socket, n: number, opts?: WaitOptions): Promise<Buffer> {
    return aio.sockRecv(this, s, n, opts);
  }
  /**
   * Reads into `buf`; resolves with the byte count (0 at EOF).
   * @throws (rejects) as sockRecv(); ERR_INVALID_ARG_TYPE if `buf` is not a Uint8Array
   */
  sockRecvInto(s: Socket, buf: Uint8Array, opts?: WaitOptions): Promise<number> {
    return aio.sockRecvInto(this, s, buf, opts);
  }
  /**
   * Sends all of `data` (a string as UTF-8), waiting for room as often as needed. Cut short by
   * a timeout or abort, the error's `bytesWritten` says how much the kernel took.
   * @throws (rejects) ERR_INVALID_ARG_TYPE (not a Socket, or data not a Uint8Array or string),
   *   ERR_INVALID_ARG_VALUE (another send already waits on this socket), ERR_SOCKET_CLOSED,
   *   ERR_LOOP_CLOSED, ABORT_ERR, ETIMEDOUT, or a system error from send such as EPIPE
   */
  sockSendAll(s: Socket, data: Uint8Array | string, opts?: WaitOptions): Promise<void> {
    return aio.sockSendAll(this, s, data, opts);
  }
  /**
   * Resolves with the next connection on a listening socket.
   * @throws (rejects) ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE (another accept already waits),
   *   ERR_SOCKET_CLOSED, ERR_LOOP_CLOSED, ABORT_ERR, ETIMEDOUT, or a system error such as EMFILE
   */
  sockAccept(s: Socket, opts?: WaitOptions): Promise<Socket> {
    return aio.sockAccept(this, s, opts);
  }
  /**
   * Connects `s` to `address`; resolves once connected. A host name resolves in the socket's
   * family and its first address is tried: a socket whose connect failed cannot be reused
   * (POSIX), so only createConnection(), which makes its own sockets, tries every address.
   * @throws (rejects) ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE for a bad socket or address,
   *   ERR_SOCKET_CLOSED, ERR_LOOP_CLOSED, ENOTFOUND, ABORT_ERR, ETIMEDOUT, or the connect error
   *   such as ECONNREFUSED or ENOENT
   */
  sockConnect(s: Socket, address: Address, opts?: WaitOptions): Promise<void> {
    return aio.sockConnect(this, s, address, opts);
  }
  /**
   * Sends one datagram to `address` (a UDP socket).
   * @throws (rejects) as sockSendAll(), and EMSGSIZE for a datagram too large
   */
  sockSendTo(s: Socket, data: Uint8Array | string, address: HostPort, opts?: WaitOptions): Promise<void> {
    return aioDatagram.sockSendTo(this, s, data, address, opts);
  }
  /**
   * Receives one datagram into `buf`: its size and sender.
   * @throws (rejects) as sockRecvInto(), and ECONNREFUSED on a connected socket after an ICMP error
   */
  sockRecvFrom(s: Socket, buf: Uint8Array, opts?: WaitOptions): Promise<ReceivedDatagram> {
    return aioDatagram.sockRecvFrom(this, s, buf, opts);
  }
  /**
   * Listens and makes a Transport and a Protocol (from `factory`) per connection.
   * @throws (rejects) ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE for bad options or factory,
   *   ERR_LOOP_CLOSED, ENOTFOUND, or a system error from bind/listen such as EADDRINUSE or EACCES
   */
  createServer(factory: () => Protocol, opts: ListenOptions): Promise<Server> {
    return transports.createServer(this, factory, opts);
  }
  /**
   * Connects and wraps the socket in a Transport driving the Protocol from `factory`.
   * @throws (rejects) ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE for bad options or factory,
   *   ERR_LOOP_CLOSED, or the connect error such as ECONNREFUSED
   */
  createConnection(factory: () => Protocol, opts: ConnectOptions): Promise<[Transport, Protocol]> {
    return transports.createConnection(this, factory, opts);
  }
  /**
   * Wraps a connected stream socket made elsewhere (accepted by your own code, one end of
   * socketpair(), inherited from a parent) in a Transport driving the Protocol from `factory`:
   * asyncio's `connect_accepted_socket`. The transport owns the socket from then on and closes
   * it when it ends. Bytes a cancelled aio read on this loop had taken are delivered first.
   * @throws (rejects) ERR_INVALID_ARG_TYPE for a bad factory, socket or option; ERR_SOCKET_CLOSED;
   *   ERR_INVALID_ARG_VALUE for a datagram socket, one a transport drives already or one an aio
   *   operation waits on; ENOTCONN for a
   *   socket that is not connected (those leave the socket to the caller); ERR_LOOP_CLOSED;
   *   what the factory throws (the socket is then closed)
   */
  connectAcceptedSocket<P extends Protocol>(
    factory: () => P,
    sock: Socket,
    opts?: transports.AcceptedSocketOptions,
  ): Promise<[Transport, P]> {
    return transports.connectAcceptedSocket(this, factory, sock, opts);
  }

  /** A Transport over a pipe's read end: dataReceived, eofReceived, connectionLost (pipe-transports.ts). */
  connectReadPipe<P extends Protocol>(factory: () => P, pipe: PipeEnd | number): Promise<[Transport, P]> {
    return pipes.connectReadPipe(this, factory, pipe);
  }
  /** A write-only Transport over a pipe's write end, buffered, with pause/resumeWriting. */
  connectWritePipe<P extends Protocol>(factory: () => P, pipe: PipeEnd | number): Promise<[Transport, P]> {
    return pipes.connectWritePipe(this, factory, pipe);
  }

  /**
   * Resolves a host name with getaddrinfo(3) on a native helper thread, completed through this
   * loop (owned or attached): every address, in the system's order. Unknown name: ENOTFOUND.
   */
  getaddrinfo(host: string, port: number, opts?: LookupOptions): Promise<ResolvedAddress[]> {
    return names.getaddrinfo(this, this._signals, host, port, opts);
  }
  /** A UDP endpoint bound to `local` and/or connected to `remote`, driving `factory()`'s DatagramProtocol. */
  createDatagramEndpoint<P extends DatagramProtocol>(
    factory: () => P,
    opts: DatagramEndpointOptions,
  ): Promise<[DatagramTransport, P]> {
    return datagram.createDatagramEndpoint(this, factory, opts);
  }
  /** Connects and returns a [StreamReader, StreamWriter] pair (streams.ts). */
  openConnection(opts: ConnectOptions & { limit?: number }): Promise<[StreamReader, StreamWriter]> {
    return streams.openConnection(this, opts);
  }
  /** Listens and calls `cb(reader, writer)` for each connection. */
  startServer(
    cb: (r: StreamReader, w: StreamWriter) => void | Promise<void>,
    opts: ListenOptions & { limit?: number },
  ): Promise<Server> {
    return streams.startServer(this, cb, opts);
  }
}
