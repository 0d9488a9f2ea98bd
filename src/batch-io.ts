// The JS half of the batched path (DESIGN §6.6, native/batch_io.h): one native call per loop
// iteration flushes the writes queued since the last one, waits, and reads every ready fd whose
// consumer lets the loop read for it ("auto-read": transports) into a shared slab. An echoed
// message then costs no N-API crossing of its own: the recv, the send and the wait it used to
// pay for separately (~120 ns each) ride on the iteration's one call.
//
// Writes are queued, not sent, and go out at the start of the next iteration's call, before it
// waits: a reply written in a dataReceived() leaves within the same turn of the loop, as it did
// when write() sent at once. What the kernel does not take comes back to its owner, which queues
// the rest and watches for writability as before (transports.ts). Bytes a protocol echoes from
// the read slab are sent from there; small others are copied into a write slab; large others
// (more than COPY_MAX) are not queued here: their owner flushes and sends them itself.
import { native, type NativeSelectorHandle } from './native.js';
import { errnoError } from './errors.js';
import { MAX_READ, MIN_ROOM, SLAB_BYTES as READ_SLAB_BYTES, newSlab, slabView } from './read-slab.js';

/** A record's length when its fd was not to be read: no mark, or not readable (native/batch_io.h). */
export const NOT_READ = -2147483648;
/** A record's length when its fd was to be read but the slab was full: JS reads it (readForSink). */
export const NO_ROOM = -2147483647;
/** Ints per read record (fd, mask, offset, length) and per write (fd, source, offset, length). */
export const RECORD_INTS = 4;
const WRITE_INTS = 4;
/** Queued writes per iteration before the queue is flushed early. */
const WRITE_CAPACITY = 1024;
const WRITE_SLAB_BYTES = 256 * 1024;
/** Above this a write is not copied: a copy would cost more than the crossing it saves. */
const COPY_MAX = 2048;
/**
 * The largest read slab. A slab is sized to twice what the last cycle read (at least
 * READ_SLAB_BYTES): 10 connections × 16 KiB fill a 256 KiB slab every 1.5 cycles, and each read
 * that finds it short costs a read and a send from JS, crossings the batch exists to save.
 */
const MAX_READ_SLAB_BYTES = 4 * 1024 * 1024;
/**
 * For readers with a buffer of their own (aio's reads into a caller's buffer, buffered
 * protocols): above this many bytes a batched read's copy out of the slab costs more than the
 * crossing it saves, so after such a read the reader reads straight into its buffer until a read
 * comes back this small again. bench/echo, async style, 16 KiB messages: user CPU per message
 * doubled with every read batched (the extra copy of each message, from slab memory not yet in
 * cache).
 */
export const BATCHED_READ_MAX = 4096;
const SOURCE_WRITE_SLAB = 0;
const SOURCE_READ_SLAB = 1;

/**
 * Receives what the cycle read for one fd: n > 0 bytes in `data` (a view into a read slab that
 * is never written again), 0 at EOF, or -errno (-EAGAIN: a spurious wake-up, nothing read); or
 * NOT_READ: the fd is readable but its mark was off, so nothing was read.
 */
export type ReadSink = (n: number, data: Buffer | null) => void;

/** Whoever queued a write: told what became of it. */
export interface WriteOwner {
  /**
   * Bookkeeping only, no user code: `sent` bytes of `length` went out, or -errno; `rest` holds
   * the unsent bytes (null when all were sent or the write failed). Returns true when the owner
   * has something to do once the whole batch is booked (_afterFlush); an echo usually has not.
   */
  _flushed(sent: number, length: number, rest: Buffer | null): boolean;
  /** After every write of the batch was booked: may call protocol code. */
  _afterFlush(): void;
  /** The BatchIo's settle count when this owner was last listed for _afterFlush(). */
  _settleMark: number;
}

/** The batched path of one loop (see the top of the file). */
export class BatchIo {
  /** The last cycle's records: (fd, mask, offset, length) for i < the count cycle() returned. */
  readonly records: Int32Array;
  readonly #handle: NativeSelectorHandle;
  readonly #waitSyscall: string;
  readonly #writes = new Int32Array(WRITE_CAPACITY * WRITE_INTS);
  readonly #writeSlab = Buffer.allocUnsafe(WRITE_SLAB_BYTES);
  /** [0]: where the next auto-read lands in the read slab; moved on by the native cycle. */
  readonly #state = new Int32Array(1);
  /** Where the next read lands (from #state[0] on). */
  #readSlab = newSlab(READ_SLAB_BYTES);
  /** The slab the native side holds: the last cycle's records point into it. */
  #nativeSlab: Buffer | null = null;
  /** #nativeSlab's ArrayBuffer, kept: asking a typed array for it is a call into the runtime. */
  #nativeMemory: ArrayBuffer | null = null;
  /** Bytes the current (or, before a cycle, the last) cycle read: sizes the next slab. */
  #cycleBytes = 0;
  #writeCount = 0;
  #writeSlabUsed = 0;
  readonly #owners: Array<WriteOwner | null> = [];
  /** The queued view for writes sent from the read slab, so a rest needs no copy. */
  readonly #views: Array<Buffer | null> = [];
  /**
   * True while a cycle is sure to follow: inside an iteration, and between the iterations of
   * run(). Writes made at other times (before run(), from Node's callbacks while attached) are
   * sent by their owner at once, as a loop that is not running would never flush them.
   */
  deferring = false;
  #touched: WriteOwner[] = [];
  /** Owners listed for _afterFlush() carry this round's number (they start at 0). */
  #settles = 1;

  constructor(handle: NativeSelectorHandle, recordCapacity: number, waitSyscall: string) {
    this.#handle = handle;
    this.#waitSyscall = waitSyscall;
    this.records = new Int32Array(recordCapacity * RECORD_INTS);
    handle.batchInit(this.records, this.#writes, this.#writeSlab, this.#state);
    handle.batchMarks(this.#marks);
  }

  #marks = new Int32Array(1024);
  /** Where the data of each auto-read fd goes. */
  readonly #sinks: Array<ReadSink | undefined> = [];
  /**
   * (fd, sink) pairs of auto-readers removed since this iteration's records were read: their
   * record's data was taken from the kernel already, so it still goes to them (a paused
   * transport keeps it for resumeReading()).
   */
  readonly #detached: Array<number | ReadSink> = [];

  /**
   * From now on `sink` hears of `fd`'s readability; the cycle reads up to `most` bytes of the fd
   * for it each time (0: none, see setMark).
   */
  attachSink(fd: number, sink: ReadSink, most: number): void {
    while (this.#sinks.length <= fd) this.#sinks.push(undefined); // packed, not holey
    this.#sinks[fd] = sink;
    this.setMark(fd, most);
  }

  /** Stops auto-reading `fd`; its sink still gets what this iteration's records hold. */
  detachSink(fd: number): void {
    const sink = this.#sinks[fd];
    this.#sinks[fd] = undefined;
    if (sink !== undefined) this.#detached.push(fd, sink);
    this.setMark(fd, 0);
  }

  /**
   * How much the next cycles read of `fd` when it is readable (0: nothing; at most 64 KiB are
   * read anyway): shared memory, so setting it per message (an aio read waiting or not, and its
   * buffer's size) costs no crossing.
   */
  setMark(fd: number, most: number): void {
    let marks = this.#marks;
    if (fd >= marks.length) {
      if (most === 0) return;
      marks = new Int32Array(Math.max(fd + 1, marks.length * 2));
      marks.set(this.#marks);
      this.#marks = marks;
      this.#handle.batchMarks(marks);
    }
    marks[fd] = most;
  }

  /** A new cycle's records: sinks detached before it have nothing more coming. */
  beginCycle(): void {
    // Only when needed: a store to an array's length is a runtime call, not a field write.
    if (this.#detached.length !== 0) this.#detached.length = 0;
    this.#delivered = null;
  }

  /**
   * Hands what was read for `fd` (`length` as in a record; `offset` -1: readNow()'s bytes) to its
   * sink: the registered one if `live`, else one detached in this iteration. With neither the
   * fd's consumer is gone, and so is the data, as it would be from a closed fd.
   */
  deliver(
    fd: number,
    live: boolean,
    offset: number,
    length: number,
    onError: (err: unknown, fd: number) => void,
  ): void {
    let sink = live ? this.#sinks[fd] : undefined;
    if (sink === undefined) {
      const detached = this.#detached;
      for (let j = 0; j < detached.length; j += 2) if (detached[j] === fd) sink = detached[j + 1] as ReadSink;
      if (sink === undefined) return;
    }
    let data: Buffer | null = null;
    if (length > 0) {
      if (offset < 0) {
        data = this.#lastView;
      } else {
        data = this.#delivered = this.#view(offset, length);
        this.#deliveredOffset = offset;
      }
    }
    try {
      sink(length, data);
    } catch (err) {
      onError(err, fd);
    }
  }

  /** An auto-read fd the native call skipped (its slab was full): read and deliver it now. */
  readForSink(fd: number, onError: (err: unknown, fd: number) => void): void {
    this.deliver(fd, true, -1, this.#readNow(fd), onError);
  }

  /** Forgets every sink (the loop is closing). */
  clearSinks(): void {
    this.#sinks.length = this.#detached.length = 0;
  }

  /**
   * Flushes, waits up to `timeout` (native form: -1 forever, 0 poll, else ms) and auto-reads.
   * Returns the record count.
   * @throws the wait's system error
   */
  cycle(timeout: number): number {
    this.#roomToRead(this.#cycleBytes);
    const slab = this.#readSlab;
    const start = this.#state[0]!;
    const count = this.#handle.cycle(timeout, this.#writeCount, slab !== this.#nativeSlab ? slab : undefined);
    if (slab !== this.#nativeSlab) {
      this.#nativeSlab = slab;
      this.#nativeMemory = slab.buffer as ArrayBuffer;
    }
    this.#cycleBytes = this.#state[0]! - start;
    if (this.#writeCount > 0) this.#settle();
    this.#runAfterFlush();
    if (count < 0) throw errnoError(count, this.#waitSyscall);
    return count;
  }

  /**
   * Reads `fd` from JS, for an auto-read fd the cycle skipped because the slab ran out of room.
   * Reading it now rather than next time keeps every ready fd served once per iteration: epoll
   * reports fds that stay ready in the same order, so the same few would fill every slab.
   * Returns what a record holds: n > 0 (then #lastView has the bytes), 0 at EOF, or -errno.
   */
  #readNow(fd: number): number {
    this.#roomToRead(0);
    const slab = this.#readSlab;
    const offset = this.#state[0]!;
    const n = native.read(fd, slab, offset, Math.min(MAX_READ, slab.length - offset));
    if (n > 0) {
      this.#lastView = slab.subarray(offset, offset + n);
      const used = (n + 7) & ~7;
      this.#state[0] = offset + used;
      this.#cycleBytes += used;
    }
    return n;
  }

  /** The bytes of the last #readNow() that read any. */
  #lastView: Buffer | null = null;
  /**
   * The last view of a record handed to a sink: an echo writes exactly it back, and knowing it
   * spares the `.buffer` lookup (a call into the runtime) that tells any other read-slab view.
   */
  #delivered: Buffer | null = null;
  /** Where #delivered starts in the native read slab. */
  #deliveredOffset = 0;

  /**
   * A fresh read slab unless the current one has room for `need` bytes and MIN_ROOM more (the
   * native side stops reading below MIN_ROOM), twice the size of what this or the last cycle
   * read (see MAX_READ_SLAB_BYTES): a busy loop reads a cycle's worth into one slab, a quiet one
   * goes back to small slabs as it replaces them.
   */
  #roomToRead(need: number): void {
    const room = this.#readSlab.length - this.#state[0]!;
    if (room - need >= MIN_ROOM) return;
    const demand = 2 * (Math.max(need, this.#cycleBytes) + MIN_ROOM);
    let bytes = READ_SLAB_BYTES;
    while (bytes < demand && bytes < MAX_READ_SLAB_BYTES) bytes *= 2;
    // Views handed out keep the old slab alive; it is never written again.
    this.#readSlab = newSlab(bytes);
    this.#state[0] = 0;
  }

  /** The bytes of a record: `n` at `offset` of the read slab the last cycle filled. */
  #view(offset: number, n: number): Buffer {
    return slabView(this.#nativeMemory!, offset, n);
  }

  /**
   * Flushes now if the queue has no room for `data`. An owner calls this before queue(): the
   * flush may leave part of the owner's own earlier writes unsent (its rest then queued with the
   * owner), and the owner must see that before it decides where `data` goes.
   */
  makeRoom(data: Uint8Array): void {
    if (this.#writeCount === WRITE_CAPACITY) return this.flush();
    const n = data.length;
    if (n <= COPY_MAX && this.#writeSlabUsed + n > WRITE_SLAB_BYTES && !this.#fromReadSlab(data)) this.flush();
  }

  /**
   * Queues `data` for `fd` (the whole of it, in order after the owner's earlier writes; call
   * makeRoom() first). Returns false when it is not queued: no cycle is coming (see deferring),
   * too large to copy, or no room; the owner then sends it itself, after flush() if it has
   * writes queued here.
   */
  queue(fd: number, data: Uint8Array, owner: WriteOwner): boolean {
    if (!this.deferring || this.#writeCount === WRITE_CAPACITY) return false;
    const n = data.length;
    let source: number;
    let offset: number;
    let view: Buffer | null = null;
    if (this.#fromReadSlab(data)) {
      source = SOURCE_READ_SLAB;
      offset = data === this.#delivered ? this.#deliveredOffset : data.byteOffset - this.#nativeSlab!.byteOffset;
      view = data as Buffer;
    } else {
      if (n > COPY_MAX || this.#writeSlabUsed + n > WRITE_SLAB_BYTES) return false;
      source = SOURCE_WRITE_SLAB;
      offset = this.#writeSlabUsed;
      this.#writeSlab.set(data, offset);
      this.#writeSlabUsed += n;
    }
    const i = this.#writeCount++;
    const w = this.#writes;
    w[i * WRITE_INTS] = fd;
    w[i * WRITE_INTS + 1] = source;
    w[i * WRITE_INTS + 2] = offset;
    w[i * WRITE_INTS + 3] = n;
    this.#owners[i] = owner;
    this.#views[i] = view;
    return true;
  }

  /**
   * True for a view into the read slab the native side holds, sent from there without a copy: the
   * view just delivered, or another large one. A small other one is copied instead, which costs
   * less than asking for its `.buffer`.
   */
  #fromReadSlab(data: Uint8Array): boolean {
    if (data === this.#delivered) return true;
    const slab = this.#nativeSlab;
    return data.length > COPY_MAX && slab !== null && data.buffer === this.#nativeMemory;
  }

  /** True while writes wait for the next cycle. */
  get hasWrites(): boolean {
    return this.#writeCount > 0;
  }

  /** No cycle is coming (run() returned, or an attached iteration ended): flush, stop queueing. */
  release(): void {
    this.deferring = false;
    this.flush();
    this.#runAfterFlush();
  }

  /**
   * Sends the queued writes now (one crossing), and books the results. Owners act on them
   * (_afterFlush) only at the next cycle or release(): this runs inside some owner's write(),
   * where a protocol callback such as resumeWriting() writing again would interleave its bytes
   * with the write in progress.
   */
  flush(): void {
    if (this.#writeCount === 0) return;
    this.#handle.flush(this.#writeCount);
    this.#settle();
  }

  /** Forgets `owner`'s queued writes (its fd is closing): they are never sent. */
  cancel(owner: WriteOwner): void {
    for (let i = 0; i < this.#writeCount; i++) {
      if (this.#owners[i] !== owner) continue;
      this.#owners[i] = null;
      this.#writes[i * WRITE_INTS] = -1;
    }
  }

  /** Hands each flushed write's result to its owner, and lists the owner for _afterFlush(). */
  #settle(): void {
    const count = this.#writeCount;
    const w = this.#writes;
    const mark = this.#settles;
    try {
      for (let i = 0; i < count; i++) {
        const owner = this.#owners[i];
        const view = this.#views[i] ?? null;
        this.#owners[i] = null;
        this.#views[i] = null;
        if (owner === null || owner === undefined) continue;
        const sent = w[i * WRITE_INTS + 1]!;
        const length = w[i * WRITE_INTS + 3]!;
        let rest: Buffer | null = null;
        if (sent >= 0 && sent < length) {
          rest =
            view !== null
              ? view.subarray(sent)
              : Buffer.from(this.#writeSlab.subarray(w[i * WRITE_INTS + 2]! + sent, w[i * WRITE_INTS + 2]! + length));
        }
        if (owner._flushed(sent, length, rest) && owner._settleMark !== mark) {
          owner._settleMark = mark;
          this.#touched.push(owner);
        }
      }
    } finally {
      this.#writeCount = 0;
      this.#writeSlabUsed = 0;
    }
  }

  /** Lets each owner the settles since the last call listed act on its results. */
  #runAfterFlush(): void {
    const touched = this.#touched;
    if (touched.length === 0) return;
    // An owner's protocol may write and flush again from here: those settles list anew.
    this.#touched = [];
    this.#settles++;
    for (let i = 0; i < touched.length; i++) touched[i]!._afterFlush(); // i < length
  }
}
