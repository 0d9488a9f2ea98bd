// Echo in async/await style ("switch on I/O"): each connection is a plain loop that awaits its
// reads and writes. Backpressure comes free: while sockSendAll() waits for a client that does not
// read, that connection does not read either.
import type { Loop } from '../loop.js';
import type { Socket } from '../socket.js';
import type { Idleable } from './idle.js';
import { IdleSweeper } from './idle.js';
import { admit, listenSocket, type Listener } from './listen.js';
import { ACCEPT_RETRY_MS, isUnwatchable } from '../accept.js';
import { acceptFailed, turnedAway, type EchoContext, type EchoServer } from './contract.js';

// Each connection owns its buffer (it is held across the await in sockSendAll, so it cannot be
// shared); 16 KiB keeps 10 000 idle connections at 160 MiB.
const CONN_BUFFER = 16 * 1024;

class Connection implements Idleable {
  readonly sock: Socket;
  touched = true;
  quietSince = 0;
  sendQueue = -1;
  /** In sockSendAll(): owes the peer an echo, so a drain lets it finish. */
  writing = false;
  /** Half-closed by the drain: what still arrives is dropped until the peer's EOF. */
  shut = false;
  readonly #close: (c: Connection) => void;

  constructor(sock: Socket, close: (c: Connection) => void) {
    this.sock = sock;
    this.#close = close;
  }

  closeIdle(): void {
    this.#close(this);
  }
}

function sleep(loop: Loop, ms: number): Promise<void> {
  return new Promise((resolve) => {
    loop.callLater(ms, resolve);
  });
}

export function startAsyncEcho(loop: Loop, ctx: EchoContext): Promise<EchoServer> {
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
  const idle = new IdleSweeper(loop, opts.idleTimeoutMs, conns);
  let listening = true;
  let draining = false;
  let onDrained: (() => void) | null = null;

  // Closing a socket rejects the read or write its connection awaits (aio's close hook), so
  // serve() below ends by itself.
  const close = (c: Connection): void => {
    if (!conns.delete(c)) return;
    counters.conns--;
    c.sock.close();
    if (onDrained !== null && conns.size === 0) {
      const done = onDrained;
      onDrained = null;
      done();
    }
  };

  // The drain's half-close (FIN): what still arrives is read and dropped until the peer's EOF.
  // Closing with unread input would reset the connection (RST) and could destroy the last echo.
  const shutWrite = (c: Connection): void => {
    c.shut = true;
    try {
      c.sock.shutdown('write');
    } catch {
      close(c); // ENOTCONN: the peer is gone already
    }
  };

  const serve = async (c: Connection): Promise<void> => {
    const buf = Buffer.allocUnsafe(CONN_BUFFER);
    try {
      for (;;) {
        const n = await loop.sockRecvInto(c.sock, buf);
        if (n === 0) break;
        if (c.shut) continue;
        counters.msgs++;
        counters.bytes += n;
        c.touched = true;
        c.writing = true;
        await loop.sockSendAll(c.sock, n === buf.length ? buf : buf.subarray(0, n));
        c.writing = false;
        if (draining) shutWrite(c);
      }
    } catch (err) {
      // select(2) and an fd >= FD_SETSIZE: the first wait is refused. Anything else is a reset
      // by the peer, or a close here (idle, shutdown): nothing to answer.
      if (isUnwatchable(err)) turnedAway(ctx, loop, err as Error);
    } finally {
      close(c);
    }
  };

  const acceptForever = async (): Promise<void> => {
    while (listening) {
      let sock: Socket;
      try {
        sock = await loop.sockAccept(listener);
      } catch (err) {
        if (!listening) return; // closed by stopAccepting()
        // Out of fds (or worse): wait instead of spinning on a listener that stays readable.
        if (acceptFailed(ctx, loop, err) === 'retry') await sleep(loop, ACCEPT_RETRY_MS);
        continue;
      }
      if (!admit(sock, draining ? Infinity : conns.size, opts.maxConns, counters)) continue;
      const c = new Connection(sock, close);
      conns.add(c);
      counters.conns++;
      void serve(c);
    }
  };

  void acceptForever();
  idle.start();

  const server: EchoServer = {
    address,
    counters,
    stopAccepting(): void {
      if (!listening) return;
      listening = false;
      idle.stop();
      bound.close(); // rejects the pending sockAccept()
    },
    drain(done: () => void): void {
      draining = true;
      if (conns.size === 0) return done();
      onDrained = done;
      // One in sockSendAll() half-closes once its echo is sent (serve()).
      for (const c of conns) if (!c.writing) shutWrite(c);
    },
    abortAll(): void {
      for (const c of conns) close(c);
    },
  };
  return Promise.resolve(server);
}
