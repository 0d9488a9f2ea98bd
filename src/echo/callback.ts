// Echo with raw readiness callbacks: the loop says "readable", we do the syscalls.
//
// Per message: recv into one shared buffer, send from it, bump two counters, set one flag. No
// allocation: each connection's two callbacks are made once, when it is accepted. Only when the
// kernel does not take the whole echo does the connection copy the rest into its own buffer
// (allocated once, on first need), stop reading and wait to be writable: backpressure, so a
// client that sends without reading holds at most one chunk of server memory.
import type { Loop } from '../loop.js';
import { Socket } from '../socket.js';
import type { Idleable } from './idle.js';
import { IdleSweeper } from './idle.js';
import { ACCEPTS_PER_WAKE, ACCEPT_RETRY_MS, isUnwatchable } from '../accept.js';
import { READ_CHUNK, acceptFailed, turnedAway, type EchoContext, type EchoServer } from './contract.js';
import { admit, listenSocket, type Listener } from './listen.js';

class Connection implements Idleable {
  readonly sock: Socket;
  readonly fd: number;
  touched = true;
  quietSince = 0;
  sendQueue = -1;
  /** Bytes owed to the peer: pending[pendingOff, pendingEnd). Empty when pendingOff === pendingEnd. */
  pending: Buffer | null = null;
  pendingOff = 0;
  pendingEnd = 0;
  /**
   * Shutting down: once what it owes is sent, our side is shut (FIN) and whatever still arrives
   * is read and dropped until the peer's EOF. Closing with unread input would reset the
   * connection (RST) and could destroy the last echo still on its way.
   */
  closing = false;
  readonly onReadable: () => void;
  readonly onWritable: () => void;
  readonly #close: (c: Connection) => void;

  constructor(
    sock: Socket,
    onReadable: (c: Connection) => void,
    onWritable: (c: Connection) => void,
    close: (c: Connection) => void,
  ) {
    this.sock = sock;
    this.fd = sock.fd;
    this.onReadable = () => onReadable(this);
    this.onWritable = () => onWritable(this);
    this.#close = close;
  }

  owes(): boolean {
    return this.pendingOff < this.pendingEnd;
  }
  closeIdle(): void {
    this.#close(this);
  }
}

export function startCallbackEcho(loop: Loop, ctx: EchoContext): Promise<EchoServer> {
  const { opts, counters } = ctx;
  let bound: Listener;
  try {
    bound = listenSocket(opts);
  } catch (err) {
    return Promise.reject(err);
  }
  const listener = bound.sock;
  const address = listener.localAddress;
  const conns = new Set<Connection>();
  const scratch = Buffer.allocUnsafe(READ_CHUNK);
  const idle = new IdleSweeper(loop, opts.idleTimeoutMs, conns);
  let listening = true;
  let acceptPaused = false;
  let onDrained: (() => void) | null = null;

  const close = (c: Connection): void => {
    if (!conns.delete(c)) return;
    counters.conns--;
    loop.removeReader(c.fd);
    loop.removeWriter(c.fd);
    c.sock.close();
    if (onDrained !== null && conns.size === 0) {
      const done = onDrained;
      onDrained = null;
      done();
    }
  };

  // The per-message path.
  const onReadable = (c: Connection): void => {
    let n: number | null;
    let sent: number | null;
    try {
      n = c.sock.recvInto(scratch);
      if (n === null) return; // a spurious wake-up
      if (n === 0) return close(c); // EOF
      if (c.closing) return; // shutting down: drop what comes after our FIN
      counters.msgs++;
      counters.bytes += n;
      c.touched = true;
      sent = c.sock.send(scratch, 0, n);
    } catch {
      return close(c); // ECONNRESET, EPIPE: the peer is gone
    }
    if (sent === n) return;
    // The kernel's send buffer is full: keep the rest and stop reading until it is sent.
    const rest = n - (sent ?? 0);
    c.pending ??= Buffer.allocUnsafe(READ_CHUNK);
    scratch.copy(c.pending, 0, n - rest, n);
    c.pendingOff = 0;
    c.pendingEnd = rest;
    loop.removeReader(c.fd);
    loop.addWriter(c.fd, c.onWritable);
  };

  const onWritable = (c: Connection): void => {
    let sent: number | null;
    try {
      sent = c.sock.send(c.pending!, c.pendingOff, c.pendingEnd - c.pendingOff);
    } catch {
      return close(c);
    }
    if (sent === null) return;
    c.touched = true;
    c.pendingOff += sent;
    if (c.owes()) return;
    c.pendingOff = c.pendingEnd = 0;
    loop.removeWriter(c.fd);
    if (c.closing && !shutWrite(c)) return;
    loop.addReader(c.fd, c.onReadable);
  };

  /** Half-closes a connection that owes nothing more; false if it was closed instead. */
  const shutWrite = (c: Connection): boolean => {
    try {
      c.sock.shutdown('write');
      return true;
    } catch {
      close(c); // ENOTCONN: the peer is gone already
      return false;
    }
  };

  const resumeAccepting = (): void => {
    acceptPaused = false;
    if (listening) loop.addReader(listener.fd, onAcceptable);
  };

  const onAcceptable = (): void => {
    for (let i = 0; i < ACCEPTS_PER_WAKE && listening; i++) {
      let sock: Socket | null;
      try {
        sock = listener.accept();
      } catch (err) {
        if (acceptFailed(ctx, loop, err) === 'aborted') continue;
        // Out of fds: the pending connection keeps the listener readable, so stop watching it
        // for a while instead of spinning (it waits in the kernel's accept queue meanwhile).
        if (!acceptPaused) {
          acceptPaused = true;
          loop.removeReader(listener.fd);
          loop.callLater(ACCEPT_RETRY_MS, resumeAccepting);
        }
        return;
      }
      if (sock === null) return;
      if (!admit(sock, conns.size, opts.maxConns, counters)) continue;
      const c = new Connection(sock, onReadable, onWritable, close);
      try {
        loop.addReader(c.fd, c.onReadable);
      } catch (err) {
        sock.close();
        if (!isUnwatchable(err)) throw err;
        turnedAway(ctx, loop, err as Error); // select(2) and an fd >= FD_SETSIZE
        continue;
      }
      conns.add(c);
      counters.conns++;
    }
  };

  loop.addReader(listener.fd, onAcceptable);
  idle.start();

  const server: EchoServer = {
    address,
    counters,
    stopAccepting(): void {
      if (!listening) return;
      listening = false;
      idle.stop();
      if (!acceptPaused) loop.removeReader(listener.fd);
      bound.close();
    },
    drain(done: () => void): void {
      if (conns.size === 0) return done();
      onDrained = done;
      for (const c of conns) {
        c.closing = true;
        // One that owes an echo is not reading (it waits to be writable): onWritable shuts it
        // once the echo is sent. The others are half-closed now and read until the peer's EOF.
        if (!c.owes()) shutWrite(c);
      }
    },
    abortAll(): void {
      for (const c of conns) close(c);
    },
  };
  return Promise.resolve(server);
}
