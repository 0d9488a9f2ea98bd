// asyncio's transports and protocols over iomux sockets. A Transport owns one connected socket
// and turns readiness into Protocol calls; writes go straight to the kernel when nothing is
// queued, and only the part the kernel did not take is buffered (with high/low water marks).
import type { Loop } from './loop.js';
import { Socket, type Address } from './socket.js';
import { native } from './native.js';
import { kBeforeClose } from './close-hooks.js';
import { releaseWaiters, takeOver } from './aio.js';
import { resolveHostPort } from './names.js';
import { isIP } from 'node:net';
import { MAX_READ, ReadSlab } from './read-slab.js';
import type { PipeEnd } from './pipe.js';
import { toBytes } from './bytes.js';
import { checkErrno, errnoError, iomuxError, invalidArgType, invalidArgValue } from './errors.js';
import { BATCHED_READ_MAX, NOT_READ, type BatchIo, type WriteOwner } from './batch-io.js';
import { constants as osConstants } from 'node:os';
import { ACCEPTS_PER_WAKE, ACCEPT_RETRY_MS, classifyAcceptError, isUnwatchable } from './accept.js';
import { claimUnixPath, releaseUnixPath, socketFileId, type SocketFileId } from './unix-path.js';

/**
 * The callbacks a Transport makes, after asyncio's `Protocol`; every one is optional. What a
 * callback throws goes to the loop's exception handler.
 */
export interface Protocol {
  /** The connection is up; called once, before any other callback. */
  connectionMade?(transport: Transport): void;
  /**
   * Bytes arrived. `data` is a zero-copy view into a read slab that is never written again, so
   * the protocol may keep it; a kept view pins its whole slab (256 KiB to 4 MiB), so copy a small
   * piece kept for long (`Buffer.from(data)`).
   */
  dataReceived?(data: Buffer): void;
  /** The peer will send no more. Return true to keep the transport open for writing. */
  eofReceived?(): boolean | void;
  /** The connection is gone: null for a normal close, else the error that ended it. */
  connectionLost?(err: Error | null): void;
  /** The write buffer went over the high-water mark: stop producing. */
  pauseWriting?(): void;
  /** The write buffer drained to the low-water mark: produce again. */
  resumeWriting?(): void;
  /**
   * A buffered protocol (asyncio's `BufferedProtocol`) has this: the transport reads into the
   * buffer it returns (at least 1 byte; `sizeHint` is the most one read takes) and then calls
   * bufferUpdated() instead of dataReceived(). The protocol owns the memory and may hand out
   * the same buffer every time: the bytes are its to copy or parse before the next call. Small
   * reads (up to 4 KiB) ride on the loop's batched read and are copied into the buffer; after a
   * larger one the transport reads straight into the buffer, one syscall a read, until a read is
   * small again (a large copy costs more than the crossing it saves).
   */
  getBuffer?(sizeHint: number): Uint8Array;
  /** With getBuffer(): `nbytes` bytes were read into the buffer getBuffer() returned last. */
  bufferUpdated?(nbytes: number): void;
}

/** The write-buffer marks for Transport.setWriteBufferLimits(), in bytes. */
export interface WriteBufferLimits {
  /** pauseWriting() once more than this is queued (default 64 KiB, or 4 * low). */
  high?: number;
  /** resumeWriting() once the queue is down to this (default high / 4). */
  low?: number;
}

// asyncio's defaults: pause producers at 64 KiB queued, resume at a quarter of that.
const DEFAULT_HIGH_WATER = 64 * 1024;

type State = 'open' | 'closing' | 'closed';

const EAGAIN = -osConstants.errno.EAGAIN;

/**
 * @internal What a Transport reads and writes: a Socket, or a pipe end adapted by
 * pipe-transports.ts. Socket's own names, so a Socket is one as it is.
 */
export interface StreamEndpoint {
  [kBeforeClose]: (() => void) | null;
  readonly fd: number;
  readonly closed: boolean;
  fileno(): number;
  recvInto(buf: Uint8Array, offset?: number, length?: number): number | null;
  send(buf: Uint8Array, offset?: number, length?: number): number | null;
  shutdown(how: 'write'): void;
  close(): void;
}

/**
 * One connected socket (or pipe end, see pipe-transports.ts) driven by the loop, after asyncio's
 * `Transport`: readiness becomes Protocol calls. write() sends at once what the kernel takes and
 * queues only the rest; the Protocol hears pauseWriting()/resumeWriting() at the water marks.
 * Made by Loop.createServer(), Loop.createConnection(), connectReadPipe() and connectWritePipe().
 * close() and abort() may be called any number of times.
 *
 * On a loop with the batched path (the default, DESIGN §6.6) a socket transport's reads come
 * with the loop's wait and its small writes (and echoes of what it was handed) are queued for
 * the next one, which sends them before it waits; nothing a protocol sees changes.
 */
export class Transport implements WriteOwner {
  readonly #loop: Loop;
  readonly #sock: StreamEndpoint;
  readonly #fd: number;
  readonly #protocol: Protocol;
  readonly #slab: ReadSlab;
  #state: State = 'open';
  #readingPaused = false;
  #eofReceived = false;
  #eofRequested = false;
  #writePaused = false;
  #high = DEFAULT_HIGH_WATER;
  #low = DEFAULT_HIGH_WATER / 4;
  // Queued bytes not yet taken by the kernel: chunks[0] is sent from #headOffset on.
  // Invariant: #queued === sum(chunk.length) - #headOffset, and it is 0 iff #chunks is empty.
  #chunks: Buffer[] = [];
  #headOffset = 0;
  #queued = 0;
  /** Of #queued, the bytes queued on the batched path (before any in #chunks). */
  #deferred = 0;
  /** The loop's batched path, for a socket; null for pipes and { batch: false } loops. */
  readonly #batch: BatchIo | null;
  /** What arrived on the batched path while reading was paused: views, or 0 (EOF) / -errno. */
  #held: Array<Buffer | number> | null = null;
  /** @internal BatchIo's bookkeeping (WriteOwner). */
  _settleMark = 0;
  readonly #onLost: ((t: Transport) => void) | undefined;
  /** The protocol has getBuffer(): reads go into its buffer (see Protocol.getBuffer). */
  readonly #buffered: boolean;
  /**
   * A buffered protocol's last read was larger than BATCHED_READ_MAX: it reads straight into the
   * protocol's buffer, not through the loop's slab, until a read is that small again.
   */
  #readsLarge = false;

  /**
   * @internal Made by createServer/createConnection/connectAcceptedSocket. `held`: what was
   * read from the socket before the transport took it over, delivered first.
   */
  constructor(
    loop: Loop,
    sock: StreamEndpoint,
    protocol: Protocol,
    slab: ReadSlab,
    onLost?: (t: Transport) => void,
    held: Array<Buffer | number> | null = null,
  ) {
    this.#loop = loop;
    this.#sock = sock;
    this.#fd = sock.fileno();
    this.#protocol = protocol;
    this.#buffered = typeof protocol.getBuffer === 'function';
    this.#slab = slab;
    this.#onLost = onLost;
    this.#batch = sock instanceof Socket ? loop._batch : null;
    // If user code closes the raw socket behind our back, unregister before the fd goes away.
    sock[kBeforeClose] = () => this.#unregister();
    this.#watchReads();
    loop.callSoon(() => this.#callProtocol('connectionMade', () => this.#protocol.connectionMade?.(this)));
    if (held !== null && held.length > 0) {
      this.#held = held;
      this.#replayHeldSoon();
    }
  }

  /**
   * The underlying socket (for options such as setNoDelay; do not read or write it directly).
   * @throws ERR_INVALID_ARG_VALUE for a pipe transport (it has `pipe`)
   */
  get socket(): Socket {
    if (this.#sock instanceof Socket) return this.#sock;
    throw iomuxError('ERR_INVALID_ARG_VALUE', 'This transport runs over a pipe, not a socket: use transport.pipe');
  }
  /** The pipe end of a transport made by connectReadPipe/connectWritePipe, else null. */
  get pipe(): PipeEnd | null {
    return this.#sock instanceof Socket ? null : (this.#sock as StreamEndpoint & { end: PipeEnd }).end;
  }
  /** The protocol this transport calls. */
  get protocol(): Protocol {
    return this.#protocol;
  }
  /** True once close() or abort() was called, or the connection was lost. */
  isClosing(): boolean {
    return this.#state !== 'open';
  }
  /** Bytes queued that the kernel has not taken yet. */
  getWriteBufferSize(): number {
    return this.#queued;
  }
  /** The current water marks, in bytes. */
  getWriteBufferLimits(): {
    /** pauseWriting() above this. */
    high: number;
    /** resumeWriting() at or below this. */
    low: number;
  } {
    return { high: this.#high, low: this.#low };
  }
  /** True while dataReceived() can be called: open, not paused, no EOF yet. */
  isReading(): boolean {
    return this.#state === 'open' && !this.#readingPaused && !this.#eofReceived;
  }

  /**
   * The local address of the socket.
   * @throws ERR_SOCKET_CLOSED once the transport is closed
   */
  get localAddress(): Address {
    return this.socket.localAddress;
  }
  /**
   * The peer's address.
   * @throws ERR_SOCKET_CLOSED once the transport is closed, or a system error such as ENOTCONN
   */
  get remoteAddress(): Address {
    return this.socket.remoteAddress;
  }

  /**
   * Sends `data` now if the kernel takes it; queues only the remainder (copied). Strings are
   * sent as UTF-8.
   * @throws TypeError ERR_INVALID_ARG_TYPE for anything but a Uint8Array or a string;
   *   ERR_TRANSPORT_CLOSED after writeEof(), close() or abort()
   */
  write(data: Uint8Array | string): void {
    data = toBytes('data', data);
    if (this.#eofRequested || this.#state !== 'open') {
      throw iomuxError('ERR_TRANSPORT_CLOSED', 'Cannot write after writeEof(), close() or abort()');
    }
    if (data.length === 0) return;
    const batch = this.#batch;
    if (batch !== null && this.#queued === this.#deferred) {
      batch.makeRoom(data);
      if (this.#state !== 'open') return; // the flush found the connection broken
      // Still nothing queued beside the batch (a flush may have left part of ours unsent).
      if (this.#queued === this.#deferred && batch.queue(this.#fd, data, this)) {
        this.#queued += data.length;
        this.#deferred += data.length;
        return this.#maybePauseProtocol();
      }
      // Not queued (too large to copy, or no cycle is coming): what is queued must go first.
      if (this.#deferred > 0) batch.flush();
      if (this.#state !== 'open') return;
    }
    let sent = 0;
    if (this.#queued === 0) {
      try {
        sent = this.#sock.send(data) ?? 0;
      } catch (err) {
        return this.#fatal(err as Error);
      }
      if (sent === data.length) return;
      this.#loop.addWriter(this.#fd, this.#onWritable);
    }
    const rest = Buffer.from(data.subarray(sent));
    this.#chunks.push(rest);
    this.#queued += rest.length;
    this.#maybePauseProtocol();
  }

  /** Half-closes: the peer sees EOF once the queued data is sent; reading goes on. */
  writeEof(): void {
    if (this.#eofRequested || this.#state !== 'open') return;
    this.#eofRequested = true;
    if (this.#queued === 0) this.#shutdownWrite();
  }

  /** Always true: every stream socket can half-close (asyncio's API has it for SSL). */
  canWriteEof(): boolean {
    return true;
  }

  /** Stops reading, sends what is queued, then closes and calls connectionLost(null). */
  close(): void {
    if (this.#state !== 'open') return;
    this.#state = 'closing';
    // A closed loop can flush nothing: release the fd now rather than never.
    if (this.#loop.closed) return this.#finish(null);
    this.#loop.removeReader(this.#fd);
    if (this.#queued === 0) this.#finish(null);
  }

  /** Closes at once; queued data is dropped. */
  abort(): void {
    if (this.#state === 'closed') return;
    this.#finish(null);
  }

  /** Stops calling dataReceived() until resumeReading(); the kernel buffers what arrives. */
  pauseReading(): void {
    if (this.#state !== 'open' || this.#readingPaused) return;
    this.#readingPaused = true;
    if (!this.#eofReceived) this.#loop.removeReader(this.#fd);
  }

  /** Undoes pauseReading(). */
  resumeReading(): void {
    if (this.#state !== 'open' || !this.#readingPaused) return;
    this.#readingPaused = false;
    if (this.#eofReceived) return;
    this.#watchReads();
    if (this.#held !== null) this.#replayHeldSoon();
  }

  /**
   * Hands the held reads to the protocol in the next iteration, before anything read meanwhile:
   * until then new reads join the held ones (see #onBatchRead), so order is kept.
   */
  #replayHeldSoon(): void {
    this.#loop.callSoon(() => {
      const held = this.#held;
      if (held === null || this.#readingPaused) return; // paused again: resumeReading() comes back
      this.#held = null;
      // A protocol that pauses on one of them makes the rest held again, in order.
      for (const item of held) {
        if (typeof item === 'number') this.#onBatchRead(item, null);
        else this.#onBatchRead(item.length, item);
      }
    });
  }

  #watchReads(): void {
    if (this.#batch !== null && !this.#readsLarge) this.#loop._addAutoReader(this.#fd, this.#onBatchRead, MAX_READ);
    else this.#loop.addReader(this.#fd, this.#onReadable);
  }

  /** A buffered protocol's read of `n` bytes picks the path of the next (see #readsLarge). */
  #sizeReads(n: number): void {
    const large = n > BATCHED_READ_MAX;
    if (large === this.#readsLarge || this.#batch === null) return;
    this.#readsLarge = large;
    if (this.isReading()) this.#watchReads(); // swaps the callback; the registration stays
  }

  /**
   * Sets the marks at which pauseWriting()/resumeWriting() are called (low defaults to high/4).
   * @throws TypeError ERR_INVALID_ARG_TYPE / RangeError ERR_INVALID_ARG_VALUE for a mark that is
   *   not a non-negative integer, or a low above high
   */
  setWriteBufferLimits(limits: WriteBufferLimits = {}): void {
    if (typeof limits !== 'object' || limits === null)
      throw invalidArgType('limits', 'an object { high, low }', limits);
    const high = limits.high ?? (limits.low !== undefined ? 4 * limits.low : DEFAULT_HIGH_WATER);
    const low = limits.low ?? Math.floor(high / 4);
    for (const [name, v] of [
      ['high', high],
      ['low', low],
    ] as const) {
      if (typeof v !== 'number') throw invalidArgType(`limits.${name}`, 'a non-negative integer', v);
      if (!Number.isInteger(v) || v < 0) throw invalidArgValue(`limits.${name}`, 'a non-negative integer', v);
    }
    if (low > high) throw invalidArgValue('limits.low', `at most high (${high})`, low);
    this.#high = high;
    this.#low = low;
    this.#maybePauseProtocol();
    this.#maybeResumeProtocol();
  }

  #onReadable = (): void => {
    if (this.#held !== null) return; // bytes read before are delivered first (#replayHeldSoon)
    if (this.#buffered) return this.#readIntoProtocol();
    let n: number | null;
    try {
      const slab = this.#slab;
      n = this.#sock.recvInto(slab.buf, slab.offset, slab.length);
    } catch (err) {
      return this.#fatal(err as Error);
    }
    if (n === null) return;
    if (n === 0) return this.#onEof();
    const data = this.#slab.take(n);
    try {
      this.#protocol.dataReceived?.(data);
    } catch (err) {
      this.#protocolFailed('dataReceived', err);
    }
  };

  /** The protocol's buffer, checked: null (and the transport closed) if getBuffer() failed. */
  #protocolBuffer(sizeHint: number): Uint8Array | null {
    let buf: unknown;
    try {
      buf = this.#protocol.getBuffer!(sizeHint);
    } catch (err) {
      this.#protocolFailed('getBuffer', err);
      return null;
    }
    if (buf instanceof Uint8Array && buf.length > 0) return buf;
    const err = invalidArgValue('getBuffer() result', 'a non-empty Uint8Array', buf, TypeError);
    this.#protocolFailed('getBuffer', err);
    return null;
  }

  /** A buffered protocol's read: straight into its buffer, then bufferUpdated(). */
  #readIntoProtocol(): void {
    const buf = this.#protocolBuffer(MAX_READ);
    if (buf === null) return;
    let n: number | null;
    try {
      n = this.#sock.recvInto(buf);
    } catch (err) {
      return this.#fatal(err as Error);
    }
    if (n === null) return;
    if (n === 0) return this.#onEof();
    this.#sizeReads(n);
    this.#bufferUpdated(n);
  }

  /** Tells a buffered protocol `n` bytes are in its buffer (no closure: once per read). */
  #bufferUpdated(n: number): void {
    try {
      this.#protocol.bufferUpdated?.(n);
    } catch (err) {
      this.#protocolFailed('bufferUpdated', err);
    }
  }

  /** Bytes read before a buffered protocol asked (held ones): copied into its buffers in turn. */
  #copyIntoProtocol(data: Buffer): void {
    for (let off = 0; off < data.length && this.#state !== 'closed';) {
      const buf = this.#protocolBuffer(data.length - off);
      if (buf === null) return;
      const k = Math.min(buf.length, data.length - off);
      buf.set(k === data.length ? data : data.subarray(off, off + k)); // k === length: off is 0
      off += k;
      this.#bufferUpdated(k);
    }
  }

  /** The batched path's read (batch-io.ts ReadSink): n bytes in data, 0 at EOF, or -errno. */
  #onBatchRead = (n: number, data: Buffer | null): void => {
    // Reading stopped: dropped, as by close. NOT_READ never comes: a transport's mark stays on.
    if (this.#state !== 'open' || this.#eofReceived || n === NOT_READ || n === EAGAIN) return;
    if (this.#readingPaused || this.#held !== null) {
      (this.#held ??= []).push(n > 0 ? data! : n);
      return;
    }
    if (n > 0) {
      if (this.#buffered) {
        this.#sizeReads(n);
        return this.#copyIntoProtocol(data!);
      }
      try {
        this.#protocol.dataReceived?.(data!);
      } catch (err) {
        this.#protocolFailed('dataReceived', err);
      }
    } else if (n === 0) {
      this.#onEof();
    } else {
      this.#fatal(errnoError(n, 'recv'));
    }
  };

  /** @internal BatchIo: bookkeeping for one flushed write (no protocol code here). */
  _flushed(sent: number, length: number, rest: Buffer | null): boolean {
    if (this.#state === 'closed') return false;
    this.#deferred -= length;
    if (sent < 0) {
      this.#fatal(errnoError(sent, 'send'));
      return false;
    }
    this.#queued -= sent;
    if (rest !== null) {
      if (this.#chunks.length === 0) this.#loop.addWriter(this.#fd, this.#onWritable);
      this.#chunks.push(rest);
    }
    // What _afterFlush() acts on: a resumeWriting() due, a close() or writeEof() waiting.
    return this.#writePaused || this.#state === 'closing' || this.#eofRequested;
  }

  /** @internal BatchIo: the batch's writes are all booked; act on what is left. */
  _afterFlush(): void {
    if (this.#state === 'closed' || this.#deferred > 0) return;
    if (this.#queued > 0) return this.#maybeResumeProtocol();
    this.#drained();
  }

  #onEof(): void {
    this.#eofReceived = true;
    this.#loop.removeReader(this.#fd);
    let keepOpen: boolean | void;
    try {
      keepOpen = this.#protocol.eofReceived?.();
    } catch (err) {
      return this.#protocolFailed('eofReceived', err);
    }
    if (!keepOpen) this.close();
  }

  #onWritable = (): void => {
    const chunks = this.#chunks;
    try {
      while (chunks.length > 0) {
        const head = chunks[0]!; // length > 0
        const sent = this.#sock.send(head, this.#headOffset);
        if (sent === null) break;
        this.#queued -= sent;
        this.#headOffset += sent;
        if (this.#headOffset < head.length) break;
        chunks.shift();
        this.#headOffset = 0;
      }
    } catch (err) {
      return this.#fatal(err as Error);
    }
    if (this.#queued > 0) return this.#maybeResumeProtocol();
    this.#loop.removeWriter(this.#fd);
    this.#drained();
  };

  /** Everything written went out: resume the producer, then finish a close or a writeEof(). */
  #drained(): void {
    this.#maybeResumeProtocol();
    if (this.#state === 'closed') return; // resumeWriting threw
    if (this.#state === 'closing') return this.#finish(null);
    if (this.#eofRequested) this.#shutdownWrite();
  }

  #shutdownWrite(): void {
    try {
      this.#sock.shutdown('write');
    } catch (err) {
      // ENOTCONN: the peer already reset the connection; connectionLost reports it on the read side.
      if ((err as { code?: string }).code !== 'ENOTCONN') this.#fatal(err as Error);
    }
  }

  #maybePauseProtocol(): void {
    if (this.#writePaused || this.#queued <= this.#high) return;
    this.#writePaused = true;
    this.#callProtocol('pauseWriting', () => this.#protocol.pauseWriting?.());
  }

  #maybeResumeProtocol(): void {
    if (!this.#writePaused || this.#queued > this.#low) return;
    this.#writePaused = false;
    this.#callProtocol('resumeWriting', () => this.#protocol.resumeWriting?.());
  }

  #callProtocol(name: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#protocolFailed(name, err);
    }
  }

  /**
   * asyncio's fatal-error path for a protocol callback that threw: report it, then close at once
   * (the protocol's state is unknown, so its queue is dropped) and pass the error to
   * connectionLost. Reading on, or waiting for a close the protocol will never ask for, would
   * leave a transport that holds its fd and never sends the peer its FIN.
   */
  #protocolFailed(name: string, err: unknown): void {
    this.#loop.callExceptionHandler(err, {
      message: `Fatal error: protocol.${name}() failed; the transport is closed`,
      fd: this.#fd,
    });
    this.#finish(err instanceof Error ? err : new Error(String(err), { cause: err }));
  }

  #fatal(err: Error): void {
    this.#finish(err);
  }

  #unregister(): void {
    // Queued writes must never reach whatever gets this fd number next.
    if (this.#deferred > 0) {
      this.#batch!.cancel(this);
      this.#deferred = 0;
    }
    // A closed loop has forgotten every fd (and would throw ERR_LOOP_CLOSED): nothing to undo.
    if (this.#loop.closed) return;
    this.#loop.removeReader(this.#fd);
    this.#loop.removeWriter(this.#fd);
  }

  #finish(err: Error | null): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    this.#chunks = [];
    this.#queued = 0;
    this.#headOffset = 0;
    this.#held = null;
    this.#sock[kBeforeClose] = null;
    this.#unregister();
    this.#sock.close();
    // After loop.close() nothing runs any more: the fd is released, connectionLost never comes.
    if (this.#loop.closed) return;
    this.#loop.callSoon(() => {
      try {
        this.#protocol.connectionLost?.(err);
      } catch (lostErr) {
        this.#loop.callExceptionHandler(lostErr, { message: 'protocol.connectionLost() failed', fd: this.#fd });
      } finally {
        this.#onLost?.(this);
      }
    });
  }
}

/** Where and how Loop.createServer() listens. */
export interface ListenOptions {
  /** Numeric IPv4/IPv6 address or 'localhost' (default '127.0.0.1'). */
  host?: string;
  /** TCP port, 0 to 65535 (default 0: the kernel picks one; see Server.address). */
  port?: number;
  /**
   * A Unix socket path; replaces host/port. A socket file nobody listens on (left by a crash) is
   * removed first; a live server's file, or any other file, makes it fail with EADDRINUSE.
   */
  path?: string;
  /** The kernel's queue of connections not yet accepted (default 511). */
  backlog?: number;
  /** SO_REUSEPORT, so several processes can listen on the same port. */
  reusePort?: boolean;
  /**
   * A socket that already listens (inherited from a parent process, say); host, port and path
   * are then ignored, and the server owns the socket from now on (asyncio's `sock=`).
   */
  sock?: Socket;
}

/** Where Loop.createConnection() connects. */
export interface ConnectOptions {
  /** Numeric IPv4/IPv6 address or 'localhost' (default '127.0.0.1'). */
  host?: string;
  /** TCP port. */
  port?: number;
  /** A Unix socket path; replaces host/port. */
  path?: string;
  /** TCP_NODELAY on the new socket (default true). */
  noDelay?: boolean;
}

/**
 * A listening socket whose connections each get a Transport and a Protocol from the factory,
 * after asyncio's `Server`. Made by Loop.createServer(). When accept() runs out of fds (EMFILE,
 * ENFILE) it pauses accepting for a moment instead of spinning, and reports the error through
 * onAcceptError.
 */
export class Server {
  readonly #loop: Loop;
  readonly #sock: Socket;
  readonly #factory: () => Protocol;
  readonly #path: string | undefined;
  readonly #pathId: SocketFileId | null;
  readonly #transports = new Set<Transport>();
  // One slab for every connection of this server: the loop runs one read at a time.
  readonly #slab = new ReadSlab();
  readonly #address: Address;
  #listening = true;
  #acceptPaused = false;
  #resolveClosed!: () => void;
  /** Resolves once the server stopped listening and every connection it made is gone. */
  readonly closed: Promise<void> = new Promise((resolve) => {
    this.#resolveClosed = resolve;
  });
  /** Called when accept() fails with a resource error (default: the loop's exception handler). */
  onAcceptError: ((err: Error) => void) | null = null;
  /** How many connections accept() refused for lack of fds so far. */
  acceptErrors = 0;
  /**
   * Called when an accepted connection is closed at once because the loop cannot watch its fd
   * (select and fds >= FD_SETSIZE; ERR_FD_OUT_OF_RANGE). Default: the loop's exception handler.
   */
  onRefused: ((err: Error) => void) | null = null;
  /** How many accepted connections were closed at once because the loop could not watch them. */
  refused = 0;

  /** @internal Use loop.createServer(). */
  constructor(loop: Loop, sock: Socket, factory: () => Protocol, path: string | undefined) {
    this.#loop = loop;
    this.#sock = sock;
    this.#factory = factory;
    this.#path = path;
    this.#pathId = path === undefined ? null : socketFileId(path);
    this.#address = sock.localAddress;
    loop.addReader(sock.fileno(), this.#onAcceptable);
  }

  /** The bound address (with the port the kernel picked for port 0). */
  get address(): Address {
    return this.#address;
  }
  /** True until close(). */
  get listening(): boolean {
    return this.#listening;
  }
  /** The transports of the connections still open. */
  get connections(): ReadonlySet<Transport> {
    return this.#transports;
  }

  /** Stops accepting; open connections go on. `closed` resolves when they are all gone. */
  close(): void {
    if (!this.#listening) return;
    this.#listening = false;
    if (!this.#loop.closed) this.#loop.removeReader(this.#sock.fileno());
    this.#sock.close();
    // Only the file this server bound: the path may belong to another server by now.
    if (this.#path !== undefined) releaseUnixPath(this.#path, this.#pathId);
    this.#maybeClosed();
  }

  /** Closes every connection (queued data is flushed first, as Transport.close does). */
  closeConnections(): void {
    for (const t of this.#transports) t.close();
  }

  /** Aborts every connection at once. */
  abortConnections(): void {
    for (const t of this.#transports) t.abort();
  }

  /** close() and closeConnections(), for `await using`; resolves with `closed`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    this.closeConnections();
    return this.closed;
  }

  #onAcceptable = (): void => {
    for (let i = 0; i < ACCEPTS_PER_WAKE && this.#listening; i++) {
      let conn: Socket | null;
      try {
        conn = this.#sock.accept();
      } catch (err) {
        this.#acceptFailed(err as Error & { code?: string });
        return;
      }
      if (conn === null) return;
      let transport: Transport;
      try {
        if (conn.family !== 'unix') conn.setNoDelay(true);
        // The Transport can fail too (select refuses fds >= FD_SETSIZE): close the connection
        // rather than leak it and leave its client hanging.
        transport = new Transport(this.#loop, conn, this.#factory(), this.#slab, (t) => {
          this.#transports.delete(t);
          this.#maybeClosed();
        });
      } catch (err) {
        conn.close();
        if (isUnwatchable(err)) {
          this.refused++;
          if (this.onRefused !== null) {
            this.onRefused(err as Error);
            continue;
          }
        }
        throw err; // to the loop's exception handler; the next connection is accepted as usual
      }
      this.#transports.add(transport);
    }
  };

  #acceptFailed(err: Error & { code?: string }): void {
    const kind = classifyAcceptError(err);
    if (kind === 'aborted') return;
    if (kind === 'exhausted') {
      this.acceptErrors++;
      this.#pauseAccepting();
      if (this.onAcceptError) this.onAcceptError(err);
      return;
    }
    throw err;
  }

  #pauseAccepting(): void {
    if (this.#acceptPaused || !this.#listening) return;
    this.#acceptPaused = true;
    this.#loop.removeReader(this.#sock.fileno());
    this.#loop.callLater(ACCEPT_RETRY_MS, () => {
      this.#acceptPaused = false;
      if (this.#listening) this.#loop.addReader(this.#sock.fileno(), this.#onAcceptable);
    });
  }

  #maybeClosed(): void {
    if (!this.#listening && this.#transports.size === 0) this.#resolveClosed();
  }
}

/** A host that is a name (not numeric, not the literal 'localhost' the socket maps itself). */
function needsLookup(opts: ListenOptions | ConnectOptions): boolean {
  if (typeof opts !== 'object' || opts === null || opts.path !== undefined) return false;
  const host = opts.host;
  return typeof host === 'string' && host !== 'localhost' && isIP(host) === 0;
}

function listenAddress(opts: ListenOptions | ConnectOptions): { sock: Socket; address: Address } {
  if (typeof opts !== 'object' || opts === null) throw invalidArgType('options', 'an object', opts);
  if (opts.path !== undefined) return { sock: Socket.unix(), address: { path: opts.path } };
  const host = opts.host ?? '127.0.0.1';
  if (typeof host !== 'string') throw invalidArgType('options.host', 'a string', host);
  const port = opts.port ?? 0;
  return { sock: Socket.forHost(host), address: { host, port } };
}

/**
 * Listens and serves; the implementation of Loop.createServer(). Every failure is a rejection.
 * @throws (rejects) ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE for bad options or factory, or a
 *   system error from bind/listen such as EADDRINUSE or EACCES
 * @internal
 */
export function createServer(loop: Loop, factory: () => Protocol, opts: ListenOptions = {}): Promise<Server> {
  // A host name binds its first address (names.ts); numeric hosts and paths go on at once.
  if (needsLookup(opts)) {
    return resolveHostPort(loop, { host: opts.host!, port: opts.port ?? 0 }, 0).then((a) =>
      createServer(loop, factory, { ...opts, host: a.host }),
    );
  }
  // Every failure is a rejection, bad arguments included, and a failure closes the socket.
  let sock: Socket | undefined;
  try {
    if (typeof factory !== 'function') throw invalidArgType('factory', 'a function that returns a Protocol', factory);
    if (opts?.sock !== undefined) {
      if (!(opts.sock instanceof Socket)) throw invalidArgType('options.sock', 'a listening Socket', opts.sock);
      return Promise.resolve(new Server(loop, opts.sock, factory, undefined));
    }
    const made = listenAddress(opts);
    sock = made.sock;
    const address = made.address;
    if ('path' in address) {
      claimUnixPath(address.path);
    } else {
      sock.setReuseAddress(true);
      if (opts.reusePort) sock.setReusePort(true);
    }
    sock.bind(address);
    sock.listen(opts.backlog ?? 511);
    return Promise.resolve(new Server(loop, sock, factory, 'path' in address ? address.path : undefined));
  } catch (err) {
    sock?.close();
    return Promise.reject(err);
  }
}

/**
 * Connects and wraps the socket in a Transport; the implementation of Loop.createConnection().
 * @throws (rejects) ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE for bad options or factory, or the
 *   connect error such as ECONNREFUSED
 * @internal
 */
export async function createConnection(
  loop: Loop,
  factory: () => Protocol,
  opts: ConnectOptions,
): Promise<[Transport, Protocol]> {
  if (typeof factory !== 'function') throw invalidArgType('factory', 'a function that returns a Protocol', factory);
  if (needsLookup(opts)) {
    // Every address of both families, in the system's order, each on a fresh socket; the last
    // failure is the one reported.
    let last: unknown;
    for (const a of await loop.getaddrinfo(opts.host!, opts.port ?? 0)) {
      try {
        return await createConnection(loop, factory, { ...opts, host: a.host });
      } catch (err) {
        last = err;
      }
    }
    throw last;
  }
  const { sock, address } = listenAddress(opts);
  try {
    await loop.sockConnect(sock, address);
    releaseWaiters(sock); // from here on the transport alone registers this fd
    if (sock.family !== 'unix' && opts.noDelay !== false) sock.setNoDelay(true);
    // Inside the try: a throwing factory or a refused registration must not leak the socket.
    const protocol = factory();
    const transport = new Transport(loop, sock, protocol, new ReadSlab());
    return [transport, protocol];
  } catch (err) {
    sock.close();
    throw err;
  }
}

/** Options of Loop.connectAcceptedSocket(). */
export interface AcceptedSocketOptions {
  /** TCP_NODELAY on a TCP socket (default true, as for the transports of createServer). */
  noDelay?: boolean;
}

/**
 * Wraps a connected stream socket made elsewhere in a Transport; the implementation of
 * Loop.connectAcceptedSocket(). Arguments are checked before the socket is taken over; after
 * that, a failure (a throwing factory, a refused registration) closes it, as createConnection
 * closes its own.
 * @internal
 */
export async function connectAcceptedSocket<P extends Protocol>(
  loop: Loop,
  factory: () => P,
  sock: Socket,
  opts: AcceptedSocketOptions = {},
): Promise<[Transport, P]> {
  if (typeof factory !== 'function') throw invalidArgType('factory', 'a function that returns a Protocol', factory);
  if (!(sock instanceof Socket)) throw invalidArgType('sock', 'a connected stream Socket', sock);
  if (typeof opts !== 'object' || opts === null) throw invalidArgType('opts', 'an object', opts);
  if (opts.noDelay !== undefined && typeof opts.noDelay !== 'boolean')
    throw invalidArgType('opts.noDelay', 'a boolean', opts.noDelay);
  if (loop.closed) throw iomuxError('ERR_LOOP_CLOSED', 'The loop is closed');
  const fd = sock.fileno(); // ERR_SOCKET_CLOSED
  const type = checkErrno(native.getsockopt(fd, native.constants.SOL_SOCKET, native.constants.SO_TYPE), 'getsockopt');
  if (type !== native.constants.SOCK_STREAM)
    throw invalidArgValue('sock', 'a stream socket (a datagram socket has createDatagramEndpoint)', sock);
  const peer = native.getpeername(fd); // not connected: ENOTCONN, and the socket stays the caller's
  if (typeof peer === 'number') throw errnoError(peer, 'getpeername');
  const held = takeOver(sock, () => {
    // Released by aio now, so a hook left is another transport's.
    if (sock[kBeforeClose] !== null) throw invalidArgValue('sock', 'a socket no transport drives yet', sock);
  });
  try {
    if (sock.family !== 'unix' && opts.noDelay !== false) sock.setNoDelay(true);
    const protocol = factory();
    return [new Transport(loop, sock, protocol, new ReadSlab(), undefined, held), protocol];
  } catch (err) {
    sock.close();
    throw err;
  }
}
