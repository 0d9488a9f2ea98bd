// async/await over non-blocking sockets ("switch on I/O", like gevent): each call tries the
// syscall first and waits on the loop only when it would block. On the batched path (the
// default, batch-io.ts) a read is not tried first: the waiting read's mark asks the loop's one
// native call per iteration to read the socket, up to the buffer's size, and the bytes come with
// the wait at no crossing of their own. Sends, accepts and connects try first either way.
//
// Waiting registers a reader/writer for the socket's fd. To spare two epoll_ctl calls per message
// in request/response code, a registration is kept after its waiter is satisfied and dropped
// at the end of the next loop iteration if nobody waits again by then (one batched check per
// iteration, not per message). Closing the socket drops it at once and rejects any waiter;
// closing the loop rejects every waiter on it (loopClosed) and leaves the sockets open.
//
// Fairness: an operation that completes at once resolves in a promise job, and the loop drains
// every promise job before it selects again (microtask-drain.ts). A coroutine whose reads and
// writes never wait therefore never gave the loop a turn. With 100 ping-pong connections on
// epoll, those that kept finding their next message at once ran on for up to 125 ms between
// two selects (2.75 s of a 3 s run were spent in that drain, in 1 226 iterations against the
// callback style's 30 209) while the others, parked in the selector, waited: p99.9 47-246 ms
// against ~4 ms. So each socket may complete IMMEDIATE_RUN operations in a row without waiting;
// the next one yields to the loop even if it could complete now (a read waits for readability,
// a send for the next iteration's ready queue), and the run starts again once the loop has woken
// one of its waiters. Between two selects a socket completes at most IMMEDIATE_RUN operations
// beyond those the loop woke, so every parked socket's turn comes within one iteration. A
// listener's run is the accept policy's ACCEPTS_PER_WAKE.
import { isIP } from 'node:net';
import type { Loop } from './loop.js';
import { Socket, kWaitState, type Address, type HostPort } from './socket.js';
import { kBeforeClose } from './close-hooks.js';
import { ACCEPTS_PER_WAKE, isUnwatchable } from './accept.js';
import { checkBuffer, toBytes } from './bytes.js';
import { errnoError, iomuxError, invalidArgType, invalidArgValue } from './errors.js';
import { BATCHED_READ_MAX, NOT_READ, type BatchIo } from './batch-io.js';
import { constants as osConstants } from 'node:os';
import { checkWaitOptions, guarded, WaitGuard, type WaitOptions } from './wait-options.js';

type Settle = { resolve: () => void; reject: (err: unknown) => void };
/**
 * A waiting reader. With `buf`, the readiness callback does the recv itself and resolves with the
 * count (one promise and one microtask hop per message instead of a wait-then-read pair); without
 * it (accept, connect), it only says "readable".
 */
type ReadWaiter = { buf: Uint8Array | null; resolve: (n: number) => void; reject: (err: unknown) => void };

/**
 * How many operations (reads and writes together) one socket may complete in a row without
 * waiting before the next one yields to the loop. Small, so a connection whose I/O is always
 * ready holds the others up by two messages at most, as a callback server that reads once per
 * readiness does; a yield costs a promise and a place in the next select's results, little
 * beside a message's syscalls. Odd on purpose: request/response code runs (woken read), send,
 * read, send, read ..., so its run ends on a read, whose registration is still kept and costs no
 * epoll_ctl; an even run would end on a send and churn the registration.
 * @internal exported for tests
 */
export const IMMEDIATE_RUN = 3;

const EAGAIN = -osConstants.errno.EAGAIN;

/** What the loop read for a read that left before it could be handed the bytes: kept for the next. */
type Held = Array<Buffer | number>;
/** Held bytes of sockets whose wait state was released (handed over, or their loop closed). */
const heldBySocket = new WeakMap<Socket, Held>();

/** One settled promise for every sockSendAll the kernel took at once: nothing to allocate. */
export const SENT: Promise<void> = Promise.resolve();

/** Per-socket wait state: at most one reader and one writer waiting at a time. */
export class SocketWaiters {
  readonly loop: Loop;
  readonly sock: Socket;
  readonly fd: number;
  reader: ReadWaiter | null = null;
  writer: Settle | null = null;
  readArmed = false;
  /** With readArmed: the read registration is the batched path's sink (else a plain reader). */
  #readAuto = false;
  writeArmed = false;
  /**
   * The loop's batched path (batch-io.ts): a waiting read is done by the loop's native call and
   * comes with the wait, so reads are not tried first. Null on a { batch: false } loop.
   */
  readonly batch: BatchIo | null;
  /** The last read was larger than BATCHED_READ_MAX: read directly until one is not. */
  readsLarge = false;
  /** Bytes (or 0 for EOF, -errno) read for a read cancelled meanwhile; the next read gets them. */
  #held: Held | null = null;
  checkQueued = false;
  /** Operations that completed without waiting since the loop last woke a waiter here. */
  #run = 0;
  /**
   * Every SocketWaiters of this loop not yet released (loop.close() rejects their waiters):
   * joined once, not per wait, which cost a Set insert and delete per awaited operation.
   */
  readonly #onLoop: Set<SocketWaiters>;

  constructor(loop: Loop, sock: Socket) {
    this.loop = loop;
    this.sock = sock;
    this.fd = sock.fileno();
    this.batch = loop._batch;
    this.#held = heldBySocket.get(sock) ?? null;
    if (this.#held !== null) heldBySocket.delete(sock);
    sock[kBeforeClose] = this.#onClose;
    let onLoop = waitersByLoop.get(loop);
    if (onLoop === undefined) {
      onLoop = new Set();
      waitersByLoop.set(loop, onLoop);
    }
    this.#onLoop = onLoop;
    onLoop.add(this);
  }

  /**
   * Counts one operation that may complete at once; false when this socket has had its run
   * (`limit` in a row) and must yield to the loop first.
   */
  mayRunNow(limit = IMMEDIATE_RUN): boolean {
    if (this.#run >= limit) return false;
    this.#run++;
    return true;
  }

  // Register first, then record the waiter: a refused registration (ERR_FD_OUT_OF_RANGE on
  // select, ERR_LOOP_CLOSED) must not leave a waiter behind that makes every later call "busy".
  waitReadable(): Promise<void> {
    return this.#waitRead(null).then(ignoreCount);
  }

  /** Resolves with what one recv into `buf` returns once the socket is readable (0 at EOF). */
  recvWhenReadable(buf: Uint8Array): Promise<number> {
    return this.#waitRead(buf);
  }

  #waitRead(buf: Uint8Array | null): Promise<number> {
    if (this.reader !== null) return Promise.reject(busy('read', this.fd));
    if (this.#held !== null && buf !== null) {
      // The bytes are here already: no readiness will announce them. A turn of the loop first.
      this.loop.callSoon(this.#serveHeld);
      return new Promise<number>((resolve, reject) => {
        this.reader = { buf, resolve, reject };
      });
    }
    // An empty buffer's read is the syscall's business (a zero-length recv), not the loop's.
    const auto = this.batch !== null && buf !== null && buf.length > 0 && !this.readsLarge;
    if (!this.readArmed || this.#readAuto !== auto) {
      if (auto) this.loop._addAutoReader(this.fd, this.#onBatchRead, buf.length);
      else this.loop.addReader(this.fd, this.#onReadable);
      this.readArmed = true;
      this.#readAuto = auto;
    } else if (auto) {
      this.batch.setMark(this.fd, buf.length);
    }
    return new Promise<number>((resolve, reject) => {
      this.reader = { buf, resolve, reject };
    });
  }

  waitWritable(): Promise<void> {
    if (this.writer !== null) return Promise.reject(busy('write', this.fd));
    if (!this.writeArmed) {
      this.loop.addWriter(this.fd, this.#onWritable);
      this.writeArmed = true;
    }
    return this.#recordWriter();
  }

  /**
   * A writer's turn to yield: resolves from the next iteration's ready queue, without asking the
   * selector (a socket that just took a send at once almost surely has room, and waiting for
   * writability would cost two epoll_ctl calls). The caller then tries its send.
   */
  yieldWrite(): Promise<void> {
    if (this.writer !== null) return Promise.reject(busy('write', this.fd));
    this.loop.callSoon(this.#onWritable);
    return this.#recordWriter();
  }

  #recordWriter(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.writer = { resolve, reject };
    });
  }

  #onReadable = (): void => {
    const waiter = this.reader;
    if (waiter === null) return this.#disarmRead();
    let n = 0;
    if (waiter.buf !== null) {
      let got: number | null;
      try {
        got = this.sock.recvInto(waiter.buf);
      } catch (err) {
        this.reader = null;
        queueIdleCheck(this);
        waiter.reject(err);
        return;
      }
      if (got === null) return; // a spurious wake-up: keep waiting
      n = got;
      if (n <= BATCHED_READ_MAX) this.readsLarge = false;
    }
    this.reader = null;
    this.#run = 0;
    queueIdleCheck(this);
    waiter.resolve(n);
  };

  /**
   * The batched path's read (a ReadSink): the loop read `n` bytes into `data` for the waiting
   * read (0 EOF, -errno), or NOT_READ: the fd is readable and no read waits on it.
   */
  #onBatchRead = (n: number, data: Buffer | null): void => {
    const waiter = this.reader;
    if (n === NOT_READ) {
      if (waiter === null) this.#disarmRead();
      return;
    }
    if (n === EAGAIN) return; // a spurious wake-up: keep waiting
    if (waiter === null || waiter.buf === null) return this.#hold(n, data);
    this.batch!.setMark(this.fd, 0);
    this.reader = null;
    this.#run = 0;
    queueIdleCheck(this);
    if (n < 0) return waiter.reject(errnoError(n, 'recv'));
    if (n > BATCHED_READ_MAX) this.readsLarge = true;
    if (n > 0) n = this.#copyOut(data!, waiter.buf);
    waiter.resolve(n);
  };

  /** Copies what fits of `data` into `buf`; holds the rest for the next read. */
  #copyOut(data: Buffer, buf: Uint8Array): number {
    const k = Math.min(data.length, buf.length);
    buf.set(k === data.length ? data : data.subarray(0, k));
    if (k < data.length) (this.#held ??= []).unshift(data.subarray(k));
    return k;
  }

  #serveHeld = (): void => {
    const waiter = this.reader;
    if (waiter === null || waiter.buf === null || this.#held === null) return;
    this.reader = null;
    this.#run = 0;
    queueIdleCheck(this);
    try {
      waiter.resolve(this.takeHeld(waiter.buf));
    } catch (err) {
      waiter.reject(err);
    }
  };

  #hold(n: number, data: Buffer | null): void {
    (this.#held ??= []).push(n > 0 ? data! : n);
  }

  /** True when the loop already read bytes (or the EOF, or an error) that the next read gets. */
  get hasHeld(): boolean {
    return this.#held !== null;
  }

  /**
   * The next read, from what is held: a count (0 at EOF).
   * @throws the read error the loop met
   */
  takeHeld(buf: Uint8Array): number {
    const held = this.#held!;
    const item = held.shift()!;
    if (held.length === 0) this.#held = null;
    if (typeof item === 'number') {
      if (item < 0) throw errnoError(item, 'recv');
      return 0;
    }
    return this.#copyOut(item, buf);
  }

  /** Releases `waiter` (if it still waits) with `err`; the socket's data is untouched. */
  cancelRead(waiter: ReadWaiter | null, err: Error): void {
    if (waiter === null || this.reader !== waiter) return;
    if (this.#readAuto && this.readArmed) this.batch!.setMark(this.fd, 0);
    this.reader = null;
    queueIdleCheck(this);
    waiter.reject(err);
  }

  cancelWrite(waiter: Settle | null, err: Error): void {
    if (waiter === null || this.writer !== waiter) return;
    this.writer = null;
    queueIdleCheck(this);
    waiter.reject(err);
  }

  #onWritable = (): void => {
    const waiter = this.writer;
    if (waiter === null) return this.#disarmWrite();
    this.writer = null;
    this.#run = 0;
    queueIdleCheck(this);
    waiter.resolve();
  };

  /** Drops registrations nobody waits on any more (run once per loop iteration). */
  dropIdle(): void {
    this.checkQueued = false;
    if (this.sock[kWaitState] !== this) return; // released meanwhile
    if (this.reader === null) this.#disarmRead();
    if (this.writer === null) this.#disarmWrite();
  }

  #disarmRead(): void {
    if (!this.readArmed) return;
    this.readArmed = false;
    if (!this.loop.closed) this.loop.removeReader(this.fd);
  }

  #disarmWrite(): void {
    if (!this.writeArmed) return;
    this.writeArmed = false;
    if (!this.loop.closed) this.loop.removeWriter(this.fd);
  }

  /** Unregisters at once and forgets this socket; waiters (if any) are left to `reject`. */
  release(): void {
    this.#disarmRead();
    this.#disarmWrite();
    // Only if still ours: a wait on another loop may have taken the slot over since.
    if (this.sock[kWaitState] === this) this.sock[kWaitState] = null;
    this.#onLoop.delete(this);
    // Bytes already taken from the kernel stay with the socket for its next aio read.
    if (this.#held !== null) heldBySocket.set(this.sock, this.#held);
    this.#held = null;
    if (this.sock[kBeforeClose] === this.#onClose) this.sock[kBeforeClose] = null;
  }

  /** Releases the socket and rejects its waiters with `err`. */
  abandon(err: Error): void {
    this.release();
    const { reader, writer } = this;
    this.reader = this.writer = null;
    reader?.reject(err);
    writer?.reject(err);
  }

  // Runs inside Socket.close() while the fd is still open, so unregistering cannot hit EBADF.
  #onClose = (): void => {
    this.abandon(
      iomuxError('ERR_SOCKET_CLOSED', `The socket (fd ${this.fd}) was closed while an operation waited on it`),
    );
  };
}

function ignoreCount(): void {}

function busy(what: string, fd: number): Error {
  return iomuxError('ERR_INVALID_ARG_VALUE', `Another operation is already waiting to ${what} on fd ${fd}`);
}

const waitersByLoop = new WeakMap<Loop, Set<SocketWaiters>>();
const idleChecks = new WeakMap<Loop, SocketWaiters[]>();

/** @internal For aio-datagram.ts. */
export function waitersOf(loop: Loop, sock: Socket): SocketWaiters {
  let w = sock[kWaitState] as SocketWaiters | null;
  if (w === null || w.loop !== loop) {
    w = new SocketWaiters(loop, sock);
    sock[kWaitState] = w;
  }
  return w;
}

/**
 * Called by loop.close(): rejects every operation waiting on `loop` with ERR_LOOP_CLOSED and
 * forgets its sockets, which stay open (another loop may wait on them next). The loop has
 * already dropped its registrations, so nothing is unregistered here.
 */
export function loopClosed(loop: Loop): void {
  const onLoop = waitersByLoop.get(loop);
  if (onLoop === undefined) return;
  waitersByLoop.delete(loop);
  const err = iomuxError('ERR_LOOP_CLOSED', 'The loop was closed while an operation waited on it');
  // abandon() deletes only the entry being visited, which a Set's iteration allows.
  for (const w of onLoop) w.abandon(err);
}

/** Hands a socket over to another owner (a Transport): drops aio's registrations at once. */
export function releaseWaiters(sock: Socket): void {
  (sock[kWaitState] as SocketWaiters | null)?.release();
}

/**
 * Hands `sock` over to a Transport (connectAcceptedSocket): refuses it while an aio operation
 * waits on it, which would otherwise never settle; else releases it and returns what the loop
 * had read for an aio read that left before taking it (bytes, then 0 for EOF or -errno), or
 * null: the new owner delivers that first. `check` runs after the release and before the bytes
 * are taken: if it throws, they stay with the socket for its next aio read.
 * @throws ERR_INVALID_ARG_VALUE while an operation waits on `sock`; what `check` throws
 */
export function takeOver(sock: Socket, check: () => void): Array<Buffer | number> | null {
  const w = sock[kWaitState] as SocketWaiters | null;
  if (w !== null && (w.reader !== null || w.writer !== null)) throw busy(w.reader !== null ? 'read' : 'write', w.fd);
  releaseWaiters(sock);
  check();
  const held = heldBySocket.get(sock) ?? null;
  heldBySocket.delete(sock);
  return held;
}

function queueIdleCheck(w: SocketWaiters): void {
  if (w.checkQueued) return;
  w.checkQueued = true;
  let batch = idleChecks.get(w.loop);
  if (batch === undefined) {
    batch = [];
    idleChecks.set(w.loop, batch);
  }
  if (batch.length === 0) {
    const pending = batch;
    w.loop.callSoon(() => {
      for (let i = 0; i < pending.length; i++) pending[i]!.dropIdle(); // i < length
      pending.length = 0;
    });
  }
  batch.push(w);
}

/**
 * Throws "busy" if another read (write) already waits on `sock`. Checked before the try-first
 * syscall: otherwise a second reader could take bytes meant for the waiting one, and a second
 * sendAll could put its bytes in the middle of the first one's stream. Returns the socket's wait
 * state on `loop` (made on first use), with one map lookup when it exists already.
 */
export function idleWaiters(loop: Loop, sock: Socket, what: 'read' | 'write'): SocketWaiters {
  const w = sock[kWaitState] as SocketWaiters | null;
  if (w !== null && (what === 'read' ? w.reader : w.writer) !== null) throw busy(what, w.fd);
  return w !== null && w.loop === loop ? w : waitersOf(loop, sock);
}

export function checkSocket(sock: unknown): Socket {
  if (!(sock instanceof Socket)) throw invalidArgType('sock', 'an iomux Socket', sock);
  return sock;
}

/**
 * Reads into `buf`; resolves with the byte count (0 at EOF).
 *
 * Tries the syscall first, unless the socket has had its run of IMMEDIATE_RUN immediate
 * completions (see "Fairness" at the top): then it waits for readability first. Waiting first
 * after every short read was tried and measured: with 100 ping-pong connections the next message
 * is already there for 5 tries in 6 (perf stat: 30,602 EAGAINs in 183,736 messages), and A/B runs
 * showed no gain in msgs/s or CPU at K=1 or K=16.
 */
export function sockRecvInto(loop: Loop, sock: Socket, buf: Uint8Array, opts?: WaitOptions): Promise<number> {
  // Every failure, bad arguments included, is a rejection: callers only ever need one catch.
  try {
    checkSocket(sock);
    checkBuffer('buf', buf);
    const w = idleWaiters(loop, sock, 'read');
    const checked = checkWaitOptions(opts);
    if (checked !== undefined) return guardedRecv(w, buf, checked);
    if (usesBatchedRead(w)) return batchedRecv(w, buf);
    const n = tryRecv(w, buf);
    return n !== null ? Promise.resolve(n) : w.recvWhenReadable(buf);
  } catch (err) {
    return Promise.reject(err);
  }
}

function guardedRecv(w: SocketWaiters, buf: Uint8Array, opts: WaitOptions): Promise<number> {
  return guarded(w.loop, opts, 'recv', (guard) => {
    if (usesBatchedRead(w)) return waitOn(guard, w, 'read', () => batchedRecv(w, buf));
    const n = tryRecv(w, buf);
    return n !== null ? Promise.resolve(n) : waitOn(guard, w, 'read', () => w.recvWhenReadable(buf));
  });
}

/** Whether this read goes through the loop's native call (held bytes always do: they are there). */
function usesBatchedRead(w: SocketWaiters): boolean {
  return w.batch !== null && (!w.readsLarge || w.hasHeld);
}

/** The try-first read, within the socket's run; null: it must wait. */
function tryRecv(w: SocketWaiters, buf: Uint8Array): number | null {
  if (!w.mayRunNow()) return null;
  const n = w.sock.recvInto(buf);
  if (n !== null && n <= BATCHED_READ_MAX) w.readsLarge = false;
  return n;
}

/**
 * A read on the batched path: it comes with the loop's next wait, at no crossing of its own, so
 * it is not tried first, and every socket gets one read per iteration (fair by construction).
 * Bytes the loop already holds for the socket come first, within the run IMMEDIATE_RUN allows.
 * A socket the selector cannot watch (select, fd >= FD_SETSIZE) still reads what is there.
 */
function batchedRecv(w: SocketWaiters, buf: Uint8Array): Promise<number> {
  if (w.hasHeld && w.mayRunNow()) return Promise.resolve(w.takeHeld(buf));
  try {
    return w.recvWhenReadable(buf);
  } catch (err) {
    if (!isUnwatchable(err) || w.hasHeld) throw err;
    const n = w.sock.recvInto(buf);
    if (n === null) throw err;
    return Promise.resolve(n);
  }
}

/**
 * Starts a wait on `w` under `guard` (if any): the guard's timeout or abort releases exactly the
 * waiter this call made, never a later one.
 */
export function waitOn<T>(
  guard: WaitGuard | null,
  w: SocketWaiters,
  kind: 'read' | 'write',
  start: () => Promise<T>,
): Promise<T> {
  if (guard === null) return start();
  return guard.wait(start, () => {
    if (kind === 'read') {
      const waiter = w.reader;
      return (err) => w.cancelRead(waiter, err);
    }
    const waiter = w.writer;
    return (err) => w.cancelWrite(waiter, err);
  });
}

/** Reads up to `n` bytes; resolves with a Buffer (empty at EOF). */
export async function sockRecv(loop: Loop, sock: Socket, n: number, opts?: WaitOptions): Promise<Buffer> {
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) throw invalidArgValue('n', 'a positive integer', n);
  const buf = Buffer.allocUnsafe(n);
  const got = await sockRecvInto(loop, sock, buf, opts);
  return buf.subarray(0, got);
}

/**
 * Sends every byte of `data` (a string as UTF-8), waiting for room as often as needed. A timeout
 * or abort stops it between sends: what the kernel already took stays sent, and the error's
 * `bytesWritten` says how much that was.
 */
export function sockSendAll(loop: Loop, sock: Socket, data: Uint8Array | string, opts?: WaitOptions): Promise<void> {
  let bytes: Uint8Array;
  let w: SocketWaiters;
  let sent: number;
  let guard: WaitGuard | null = null;
  try {
    checkSocket(sock);
    bytes = toBytes('data', data);
    w = idleWaiters(loop, sock, 'write');
    const checked = checkWaitOptions(opts);
    if (checked !== undefined) guard = new WaitGuard(loop, checked, 'send');
    if (!w.mayRunNow()) return sendRestSlow(w, bytes, -1, guard);
    sent = sock.send(bytes) ?? 0;
  } catch (err) {
    guard?.done();
    return Promise.reject(err);
  }
  if (sent === bytes.length) {
    guard?.done();
    return SENT;
  }
  return sendRestSlow(w, bytes, sent, guard);
}

/** The rest of a sendAll from `sent` on; sent = -1: this socket must yield before its first send. */
async function sendRestSlow(w: SocketWaiters, data: Uint8Array, sent: number, guard: WaitGuard | null): Promise<void> {
  const sock = w.sock;
  try {
    if (sent < 0) {
      sent = 0;
      await waitOn(guard, w, 'write', () => w.yieldWrite());
      sent = sock.send(data) ?? 0;
    }
    while (sent < data.length) {
      await waitOn(guard, w, 'write', () => w.waitWritable());
      sent += sock.send(data, sent) ?? 0;
    }
  } catch (err) {
    if (guard !== null && err === guard.error) (err as Error & { bytesWritten?: number }).bytesWritten = sent;
    throw err;
  } finally {
    guard?.done();
  }
}

/** Resolves with the next connection on a listening socket. */
export async function sockAccept(loop: Loop, sock: Socket, opts?: WaitOptions): Promise<Socket> {
  checkSocket(sock);
  return guarded(loop, checkWaitOptions(opts), 'accept', async (guard) => {
    const w = waitersOf(loop, sock);
    for (;;) {
      // A listener's run is the accept policy's (accept.ts), as for Server and the echo styles.
      if (w.mayRunNow(ACCEPTS_PER_WAKE)) {
        const conn = sock.accept();
        if (conn !== null) return conn;
      }
      await waitOn(guard, w, 'read', () => w.waitReadable());
    }
  });
}

/**
 * Connects and resolves once the connection is up; rejects with the connect error. After a
 * timeout or abort the kernel's attempt goes on: calling sockConnect again waits for it
 * (connect(2) reports EALREADY while it is in progress, EISCONN once it is up).
 */
export async function sockConnect(loop: Loop, sock: Socket, address: Address, opts?: WaitOptions): Promise<void> {
  checkSocket(sock);
  return guarded(loop, checkWaitOptions(opts), 'connect', async (guard) => {
    if (!isName(address)) return connectTo(loop, sock, address, guard);
    // A name resolves in the socket's family and its first address is the one tried, as asyncio's
    // sock_connect does: after a failed connect(2) the socket's state is unspecified (POSIX; Linux
    // answers a second connect with ECONNABORTED), so the next address would need a new socket,
    // and this one is the caller's. createConnection() owns its sockets and tries every address.
    const family = sock.family === 'IPv6' ? 6 : 4;
    const [first] = await lookupUnder(guard, loop, address.host, address.port, family);
    // getaddrinfo() never resolves with an empty list (it rejects that with ENOTFOUND).
    return connectTo(loop, sock, { host: first!.host, port: first!.port }, guard);
  });
}

/** loop.getaddrinfo() that the operation's guard (timeout, abort) ends with the guard's own error. */
async function lookupUnder(
  guard: WaitGuard | null,
  loop: Loop,
  host: string,
  port: number,
  family: 4 | 6,
): Promise<HostPort[]> {
  if (guard === null) return loop.getaddrinfo(host, port, { family });
  const ac = new AbortController();
  try {
    return await guard.wait(
      () => loop.getaddrinfo(host, port, { family, signal: ac.signal }),
      () => () => ac.abort(),
    );
  } catch (err) {
    throw guard.error ?? err;
  }
}

/** A host that is a name: neither numeric nor the literal 'localhost' (the socket maps that). */
function isName(address: Address): address is HostPort {
  const host = (address as { host?: unknown } | null)?.host;
  return typeof host === 'string' && host !== 'localhost' && isIP(host) === 0;
}

async function connectTo(loop: Loop, sock: Socket, address: Address, guard: WaitGuard | null): Promise<void> {
  try {
    if (sock.connect(address)) return;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'EISCONN') return;
    if (code !== 'EALREADY') throw err;
  }
  const w = waitersOf(loop, sock);
  await waitOn(guard, w, 'write', () => w.waitWritable());
  sock.finishConnect();
}
