// asyncio's streams (open_connection / start_server): a StreamReader fed by a Protocol, and a
// StreamWriter over the Transport. Backpressure runs both ways:
//   reading  the reader pauses the transport while it holds more than `limit` bytes (default
//            64 KiB) and resumes it once a read brought it back to `limit` or below;
//   writing  drain() waits while the transport's write buffer is above its high-water mark
//            (pauseWriting .. resumeWriting), and rejects once the connection is lost.
// Fairness (as in aio.ts): a producer that writes and awaits drain() while the kernel takes
// everything at once would never give the loop a turn, so drain() resolves at once at most
// IMMEDIATE_RUN times in a row; the next one resolves in the next iteration. The run starts again
// whenever the loop hands the stream something (data, EOF, resumeWriting, that next iteration).
// Differences from asyncio, on purpose: the reader pauses above `limit` (asyncio: above twice
// the limit); readUntil()'s ERR_LIMIT_OVERRUN leaves the data in the buffer, as asyncio's
// LimitOverrunError does, while readLine() then drops it (asyncio's readline does too).
import type { Loop } from './loop.js';
import { IMMEDIATE_RUN } from './aio.js';
import { iomuxError, invalidArgType, invalidArgValue } from './errors.js';
import {
  createConnection,
  createServer,
  type ConnectOptions,
  type ListenOptions,
  type Protocol,
  type Server,
  type Transport,
} from './transports.js';

const DEFAULT_LIMIT = 64 * 1024;

/** readExactly()/readUntil() met EOF first: `partial` holds what was read (and consumed). */
export interface IncompleteReadError extends Error {
  /** Always 'ERR_INCOMPLETE_READ'. */
  code: 'ERR_INCOMPLETE_READ';
  /** The bytes read before EOF. */
  partial: Buffer;
  /** How many readExactly() wanted; null for readUntil(). */
  expected: number | null;
}
/** readUntil() found no separator within `limit` bytes; the data stays in the buffer. */
export interface LimitOverrunError extends Error {
  /** Always 'ERR_LIMIT_OVERRUN'. */
  code: 'ERR_LIMIT_OVERRUN';
  /** How many buffered bytes were searched. */
  consumed: number;
}

function incompleteRead(partial: Buffer, expected: number | null): IncompleteReadError {
  const err = iomuxError(
    'ERR_INCOMPLETE_READ',
    `${partial.length} bytes read on a total of ${expected ?? 'undefined'} expected bytes`,
  ) as unknown as IncompleteReadError;
  err.partial = partial;
  err.expected = expected;
  return err;
}

function checkLimit(limit: unknown): number {
  if (limit === undefined) return DEFAULT_LIMIT;
  if (typeof limit !== 'number') throw invalidArgType('limit', 'a positive integer', limit);
  if (!Number.isInteger(limit) || limit <= 0) throw invalidArgValue('limit', 'a positive integer', limit);
  return limit;
}

/** Bytes from a connection, read with awaits: read, readExactly, readLine, readUntil, or `for await`. */
export class StreamReader {
  /** Bytes the reader holds before it pauses its transport, and readUntil()'s search bound (default 64 KiB). */
  readonly limit: number;
  // Invariant: #buffer holds the unread bytes, oldest first; at most one read waits at a time.
  #buffer: Buffer = Buffer.alloc(0);
  #eof = false;
  #error: Error | null = null;
  #waiter: (() => void) | null = null;
  #transport: Transport | null = null;
  #paused = false;

  constructor(limit?: number) {
    this.limit = checkLimit(limit);
  }

  /** @internal */
  setTransport(transport: Transport): void {
    this.#transport = transport;
  }

  /** @internal New bytes from the transport. */
  feedData(data: Buffer): void {
    if (data.length === 0) return;
    this.#buffer = this.#buffer.length === 0 ? Buffer.from(data) : Buffer.concat([this.#buffer, data]);
    this.#wake();
    if (!this.#paused && this.#buffer.length > this.limit && this.#transport !== null && !this.#transport.isClosing()) {
      this.#paused = true;
      this.#transport.pauseReading();
    }
  }

  /** @internal The peer sent EOF (or the connection ended). */
  feedEof(): void {
    this.#eof = true;
    this.#wake();
  }

  /** @internal The connection failed: waiting and later reads reject with `err`. */
  setException(err: Error): void {
    this.#error = err;
    this.#wake();
  }

  /** True once EOF was received and every byte before it was read. */
  atEof(): boolean {
    return this.#eof && this.#buffer.length === 0;
  }

  /**
   * Up to `n` bytes as soon as any are there (n = -1: everything up to EOF). Empty at EOF.
   * @throws ERR_INVALID_ARG_VALUE for another read already waiting; the connection's error
   */
  async read(n = -1): Promise<Buffer> {
    if (typeof n !== 'number' || !Number.isInteger(n)) throw invalidArgValue('n', 'an integer (-1: to EOF)', n);
    if (n === 0) return Buffer.alloc(0);
    if (n < 0) {
      // In pieces, so the buffer never holds the whole stream (and reading never stays paused).
      const parts: Buffer[] = [];
      for (;;) {
        if (this.#buffer.length > 0) parts.push(this.#take(this.#buffer.length));
        if (this.#eof) return parts.length === 1 ? parts[0]! : Buffer.concat(parts);
        await this.#wait('read');
      }
    }
    while (this.#buffer.length === 0 && !this.#eof) await this.#wait('read');
    return this.#take(Math.min(n, this.#buffer.length));
  }

  /**
   * Exactly `n` bytes.
   * @throws ERR_INCOMPLETE_READ (with `.partial`) when EOF comes first
   */
  async readExactly(n: number): Promise<Buffer> {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw invalidArgValue('n', 'a non-negative integer', n);
    while (this.#buffer.length < n) {
      if (this.#eof) throw incompleteRead(this.#take(this.#buffer.length), n);
      await this.#wait('readExactly');
    }
    return this.#take(n);
  }

  /** One line through '\n'; at EOF what is left (empty at EOF). @throws ERR_LIMIT_OVERRUN (the line is dropped) */
  async readLine(): Promise<Buffer> {
    try {
      return await this.readUntil('\n');
    } catch (err) {
      const e = err as { code?: string; partial?: Buffer; consumed?: number };
      if (e.code === 'ERR_INCOMPLETE_READ') return e.partial!;
      if (e.code === 'ERR_LIMIT_OVERRUN') {
        const at = this.#buffer.indexOf('\n', e.consumed);
        this.#take(at >= 0 ? at + 1 : this.#buffer.length);
      }
      throw err;
    }
  }

  /**
   * Bytes through the first `sep` (included).
   * @throws ERR_LIMIT_OVERRUN when `limit` bytes hold no separator (the data stays buffered),
   *   ERR_INCOMPLETE_READ (with `.partial`, everything consumed) at EOF without one
   */
  async readUntil(sep: Uint8Array | string = '\n'): Promise<Buffer> {
    const needle = typeof sep === 'string' ? Buffer.from(sep) : sep;
    if (!(needle instanceof Uint8Array)) throw invalidArgType('sep', 'a string, Buffer or Uint8Array', sep);
    if (needle.length === 0) throw invalidArgValue('sep', 'a non-empty separator', sep);
    let from = 0;
    for (;;) {
      const at = this.#buffer.indexOf(needle, from);
      if (at >= 0) {
        const end = at + needle.length;
        if (end > this.limit) throw this.#overrun(at);
        return this.#take(end);
      }
      from = Math.max(0, this.#buffer.length - needle.length + 1);
      if (this.#buffer.length > this.limit) throw this.#overrun(from);
      if (this.#eof) throw incompleteRead(this.#take(this.#buffer.length), null);
      await this.#wait('readUntil');
    }
  }

  /** Yields chunks as they arrive (not lines), until EOF. */
  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    for (;;) {
      const chunk = await this.read(this.limit);
      if (chunk.length === 0) return;
      yield chunk;
    }
  }

  #overrun(consumed: number): LimitOverrunError {
    const err = iomuxError(
      'ERR_LIMIT_OVERRUN',
      `No separator found within the limit of ${this.limit} bytes`,
    ) as unknown as LimitOverrunError;
    err.consumed = consumed;
    return err;
  }

  #take(n: number): Buffer {
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    if (this.#paused && this.#buffer.length <= this.limit) {
      this.#paused = false;
      this.#transport?.resumeReading();
    }
    return out;
  }

  #wait(what: string): Promise<void> {
    if (this.#error !== null) return Promise.reject(this.#error);
    if (this.#waiter !== null) {
      return Promise.reject(
        iomuxError('ERR_INVALID_ARG_VALUE', `${what}() called while another read is waiting on this StreamReader`),
      );
    }
    // A reader that waits for more wants the transport to read, whatever the buffer holds
    // (readExactly(n) for n > limit would otherwise wait forever); asyncio does the same.
    if (this.#paused) {
      this.#paused = false;
      this.#transport?.resumeReading();
    }
    return new Promise<void>((resolve) => {
      this.#waiter = resolve;
    }).then(() => {
      if (this.#error !== null) throw this.#error;
    });
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }
}

/** The Protocol between a Transport and its StreamReader; it also tracks drain() and closing. */
class StreamProtocol implements Protocol {
  readonly reader: StreamReader;
  writer: StreamWriter | null = null;
  readonly #onConnected: ((r: StreamReader, w: StreamWriter) => void) | null;
  readonly #loop: Loop;
  #paused = false;
  #drainers: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  /** drain() calls resolved at once since the loop last handed this stream something. */
  #run = 0;
  #yieldQueued = false;
  #lost: Error | null | undefined = undefined;
  readonly closed: Promise<void>;
  #closed!: { resolve: () => void; reject: (err: Error) => void };

  constructor(loop: Loop, limit: number | undefined, onConnected: ((r: StreamReader, w: StreamWriter) => void) | null) {
    this.#loop = loop;
    this.reader = new StreamReader(limit);
    this.#onConnected = onConnected;
    this.closed = new Promise<void>((resolve, reject) => {
      this.#closed = { resolve, reject };
    });
    this.closed.catch(() => {}); // waitClosed() re-raises it; nobody has to ask
  }

  connectionMade(transport: Transport): void {
    if (this.writer !== null) return; // openConnection() made the pair already
    this.reader.setTransport(transport);
    this.writer = new StreamWriter(transport, this);
    this.#onConnected?.(this.reader, this.writer);
  }

  dataReceived(data: Buffer): void {
    this.#run = 0;
    this.reader.feedData(data);
  }

  eofReceived(): boolean {
    this.#run = 0;
    this.reader.feedEof();
    return true; // keep the transport open for writing: the writer closes it
  }

  connectionLost(err: Error | null): void {
    this.#lost = err;
    if (err === null) this.reader.feedEof();
    else this.reader.setException(err);
    for (const d of this.#drainers.splice(0)) {
      d.reject(err ?? iomuxError('ERR_TRANSPORT_CLOSED', 'The connection was closed while drain() waited'));
    }
    if (err === null) this.#closed.resolve();
    else this.#closed.reject(err);
  }

  pauseWriting(): void {
    this.#paused = true;
  }

  resumeWriting(): void {
    this.#paused = false;
    this.#run = 0;
    for (const d of this.#drainers.splice(0)) d.resolve();
  }

  drain(): Promise<void> {
    if (this.#lost !== undefined) {
      return Promise.reject(this.#lost ?? iomuxError('ERR_TRANSPORT_CLOSED', 'The connection is closed'));
    }
    if (!this.#paused) {
      // A closed loop runs nothing: there is no next iteration to yield to.
      if (this.#run < IMMEDIATE_RUN || this.#loop.closed) {
        this.#run++;
        return Promise.resolve();
      }
      if (!this.#yieldQueued) {
        this.#yieldQueued = true;
        this.#loop.callSoon(this.#endYield);
      }
    }
    return new Promise((resolve, reject) => this.#drainers.push({ resolve, reject }));
  }

  /** The next iteration after a run of drain() calls: they resolve unless writing paused meanwhile. */
  readonly #endYield = (): void => {
    this.#yieldQueued = false;
    this.#run = 0;
    if (this.#paused) return; // resumeWriting() or connectionLost() settles them
    for (const d of this.#drainers.splice(0)) d.resolve();
  };
}

/** Writes to a connection; drain() is the backpressure point. */
export class StreamWriter {
  readonly #transport: Transport;
  readonly #protocol: StreamProtocol;

  /** @internal Made by openConnection/startServer. */
  constructor(transport: Transport, protocol: StreamProtocol) {
    this.#transport = transport;
    this.#protocol = protocol;
  }

  /** The Transport underneath (asyncio's StreamWriter.transport). */
  get transport(): Transport {
    return this.#transport;
  }

  /** Queues `data` (a string as UTF-8); await drain() to respect backpressure. @throws ERR_TRANSPORT_CLOSED */
  write(data: Uint8Array | string): void {
    this.#transport.write(data);
  }

  /**
   * Resolves at once unless the write buffer is above its high-water mark; then once it drained.
   * After IMMEDIATE_RUN calls in a row that resolved at once (three), the next one resolves in the
   * loop's next iteration instead, so a producer whose writes never wait lets other connections run.
   */
  drain(): Promise<void> {
    return this.#protocol.drain();
  }

  /** Half-closes: the peer reads EOF after what is queued; reading goes on. */
  writeEof(): void {
    this.#transport.writeEof();
  }

  /** Whether writeEof() can half-close this connection (true for TCP and Unix sockets). */
  canWriteEof(): boolean {
    return this.#transport.canWriteEof();
  }

  /** True once close() was called or the connection was lost. */
  isClosing(): boolean {
    return this.#transport.isClosing();
  }

  /** Closes once what is queued is sent. */
  close(): void {
    this.#transport.close();
  }

  /** Resolves once the connection is gone; rejects with the error that ended it, if one did. */
  waitClosed(): Promise<void> {
    return this.#protocol.closed;
  }
}

/** Connects and returns the stream pair (asyncio.open_connection). */
export async function openConnection(
  loop: Loop,
  opts: ConnectOptions & { limit?: number },
): Promise<[StreamReader, StreamWriter]> {
  const limit = checkLimit(opts?.limit);
  const protocol = new StreamProtocol(loop, limit, null);
  const [transport] = await createConnection(loop, () => protocol, opts);
  // connectionMade comes in the next iteration; the pair is usable now.
  if (protocol.writer === null) {
    protocol.reader.setTransport(transport);
    protocol.writer = new StreamWriter(transport, protocol);
  }
  return [protocol.reader, protocol.writer];
}

/**
 * Listens and calls `cb(reader, writer)` for each connection (asyncio.start_server). A rejected
 * or thrown `cb` goes to the loop's exception handler and closes that connection.
 */
export function startServer(
  loop: Loop,
  cb: (r: StreamReader, w: StreamWriter) => void | Promise<void>,
  opts: ListenOptions & { limit?: number },
): Promise<Server> {
  try {
    if (typeof cb !== 'function') throw invalidArgType('cb', 'a function (reader, writer) => void | Promise<void>', cb);
    const limit = checkLimit(opts?.limit);
    const onConnected = (r: StreamReader, w: StreamWriter): void => {
      const fail = (err: unknown): void => {
        w.transport.abort();
        loop.callSoon(() => {
          throw err;
        }); // reaches the loop's exception handler
      };
      try {
        const result = cb(r, w);
        if (result instanceof Promise) result.catch(fail);
      } catch (err) {
        fail(err);
      }
    };
    return createServer(loop, () => new StreamProtocol(loop, limit, onConnected), opts);
  } catch (err) {
    return Promise.reject(err);
  }
}
