// The event loop's core (DESIGN §3 "Loop"): readers and writers on fds, a ready queue, timers on
// a heap, run/stop/close. The public class Loop (loop.ts) adds asyncio's socket, transport,
// stream, datagram and name methods on top; this file is the part every iteration runs. Like asyncio's selector loop, it owns the thread while it waits in the
// selector; unlike it, it lives beside Node's own loop, so it must also keep promise
// continuations moving (microtask-drain.ts). Signals (signals.ts) and the Node-embedded mode
// (embedded.ts) live in their own files and reach the loop through small host objects.
//
// One iteration (#runOnce), the phases in order:
//   timeout  0 if the ready queue is not empty, else until the earliest live timer, else forever
//   select   selector._cycle(timeout), one native call (batch-io.ts): the writes queued since the last one go out, the
//            wait, and the reads of ready fds whose consumer lets the loop read (transports);
//            (fd, mask, offset, length) records land in batch.records. With { batch: false },
//            selector.selectRaw(timeout) instead: (fd, mask) pairs in selector.ready.
//   ready    the callbacks queued before this iteration, first in first out
//   I/O      the reader and writer of each ready fd, in the order the selector reported them
//   timers   the due timers, by (deadline, sequence)
// Anything a callback schedules (callSoon, a timer due at once, a new reader's readiness) runs
// in a later iteration, so a callback that re-schedules itself never starves I/O. After every
// iteration that ran a callback, and before the next select, the promise jobs and nextTicks it
// caused run (microtask-drain.ts).
//
// Hot path: dispatching a ready fd reads the pair from selector.ready, indexes the per-fd
// callback array, checks the registration stamp and calls. No allocation, no closure, no Map.
// Measured (Node 20, x86-64, 2 vCPUs; user CPU): dispatch costs ~7-10 ns per ready fd with
// 100-1000 ready fds.
//
// Stale events: every reader and writer carries the iteration in which it was added (#epoch is
// bumped right after each select). A registration made after this batch was selected (e.g. a
// callback closed fd N, opened a new fd N and added a reader) has the current epoch, and the
// batch's readiness for N is not delivered to it. Removed callbacks are simply gone from the
// array. (libuv invalidates the rest of the batch instead; the stamp costs one compare.)
import { performance } from 'node:perf_hooks';
import { inspect, type InspectOptionsStylized } from 'node:util';
import { describeObject } from './inspect.js';
import { checkCallback, iomuxError, invalidArgType, invalidArgValue } from './errors.js';
import { EmbeddedDriver, type EmbeddedHost } from './embedded.js';
import {
  defaultExceptionHandler,
  reportException,
  type ExceptionContext,
  type ExceptionHandler,
} from './exceptions.js';
import { Handle, HandleQueue, type TimerBook } from './handle.js';
import {
  BaseSelector,
  EVENT_READ,
  EVENT_WRITE,
  createSelector,
  fdOf,
  fdOrNull,
  type BackendName,
  type FileLike,
} from './selectors.js';
import { FdOwners } from './close-hooks.js';
import { NOT_READ, NO_ROOM, RECORD_INTS, type BatchIo, type ReadSink } from './batch-io.js';
import { Runner } from './runner.js';
import { SignalTable } from './signals.js';
import { TimerHeap } from './timer-heap.js';

export { Handle };
export type { ExceptionContext, ExceptionHandler };

type Callback = () => void;

/** How to build a Loop: the backend to use, or a selector to use as is. */
export interface LoopOptions {
  /** Selector backend to create ('select', 'poll', 'epoll', 'kqueue'); default: the best. */
  backend?: BackendName;
  /** A selector to poll instead (the loop owns it from now on and closes it on close()). */
  selector?: BaseSelector;
  /**
   * One native call per iteration for transports (default true; DESIGN §6.6): their writes go
   * out and their reads come in with the wait. false: every read and write is its own syscall
   * from JS, as raw reader/writer callbacks always are. Behaviour is the same either way.
   */
  batch?: boolean;
}

/** The reader entry of an fd whose reads the batched path does: its data goes to its sink (batch-io.ts). */
function autoReadMark(): void {}

/** Returned by #timeout() when nothing is left to wait for. */
const NOTHING_LEFT = -1;
/** asyncio compacts its timer heap when cancelled timers pass this count and half the heap. */
const MIN_CANCELLED_TO_COMPACT = 64;

function isLive(h: Handle): boolean {
  return !h._cancelled;
}

/**
 * The core of Loop (use Loop): readers and writers on fds, callbacks, timers and signals.
 * `run()` owns the thread while it waits in the selector: Node's own timers and I/O wait until it
 * returns, but promise continuations started by loop callbacks always make progress.
 */
export class LoopCore {
  /**
   * The selector this loop polls (given to the constructor, or created for it). Do not wait on
   * it yourself while the loop runs: the loop reads `selector.ready` after each of its waits.
   */
  readonly selector: BaseSelector;

  // Per-fd tables, indexed by fd and grown in place (push) so the hot loop's references stay valid.
  readonly #readers: Array<Callback | undefined> = [];
  readonly #writers: Array<Callback | undefined> = [];
  /** EVENT_READ | EVENT_WRITE as registered with the selector (0: not registered). */
  readonly #interest: number[] = [];
  /** #epoch when the reader (writer) was added; equal to #epoch: added after this batch's select. */
  readonly #readStamp: number[] = [];
  readonly #writeStamp: number[] = [];
  #epoch = 0;
  /** The batched path, or null ({ batch: false }). */
  readonly #batch: BatchIo | null;
  /** User readers plus user writers: the wake pipe's reader does not keep the loop alive. */
  #ioCount = 0;

  readonly #ready = new HandleQueue();
  readonly #timers = new TimerHeap<Handle>();
  /** onCancel: a timer cancelled from a Node callback may leave an attached loop with nothing. */
  readonly #book: TimerBook = { pending: 0, cancelledInHeap: 0, onCancel: () => this.#embedded?.refresh() };
  #seq = 0;

  #exceptionHandler: ExceptionHandler = defaultExceptionHandler;
  /** Sockets given to addReader/addWriter: closing one removes its reader and writer (§6.1). */
  readonly #owners = new FdOwners((fd) => {
    if (this.#closed) return;
    this.removeReader(fd);
    this.removeWriter(fd);
  });

  readonly #signals = new SignalTable(this, {
    watchWakeFd: (fd, onWake) => void this.#add(fd, EVENT_READ, onWake),
    report: (err, context) => this.#report(err, context),
    helperChanged: () => this.#embedded?.kick(),
  });

  #closed = false;
  /** Set while attach()ed: Node's loop drives the iterations (embedded.ts). */
  #embedded: EmbeddedDriver | null = null;
  readonly #embeddedHost: EmbeddedHost = {
    runOnce: () => {
      this.#runOnce(0);
      // Node's loop calls again only when the selector has news: queued writes go out now.
      this.#batch?.release();
    },
    timeout: () => this.#timeout(),
    hasIo: () => this.#ioCount > 0 || this.#signals.helperPending > 0,
    report: (err, context) => this.#report(err, context),
    detach: () => this.detach(),
  };
  /** run() and runUntilComplete() (runner.ts). */
  readonly #runner = new Runner({
    timeout: () => this.#timeout(),
    runOnce: (timeout) => this.#runOnce(timeout),
    ended: () => this.#batch?.release(),
  });

  /**
   * @param opts.backend a backend name for createSelector(), or
   * @param opts.selector a selector to use (not both)
   * @throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE, ERR_BACKEND_UNAVAILABLE
   */
  constructor(opts: LoopOptions = {}) {
    if (typeof opts !== 'object' || opts === null) throw invalidArgType('opts', 'an object', opts);
    const { backend, selector } = opts;
    if (selector !== undefined) {
      if (backend !== undefined)
        throw invalidArgValue('opts', 'either a backend or a selector, not both', opts, TypeError);
      if (!(selector instanceof BaseSelector)) throw invalidArgType('opts.selector', 'a BaseSelector', selector);
      if (selector.closed) throw invalidArgValue('opts.selector', 'an open selector', selector);
      this.selector = selector;
    } else {
      this.selector = createSelector(backend);
    }
    if (opts.batch !== undefined && typeof opts.batch !== 'boolean')
      throw invalidArgType('opts.batch', 'a boolean', opts.batch);
    this.#batch = opts.batch === false ? null : this.selector._batchIo();
  }

  // ---- readers and writers -----------------------------------------------------------------

  /**
   * Calls `cb` whenever `fd` is readable (level-triggered: again each iteration until drained).
   * A reader and a writer on one fd share one selector registration. Adding a reader to an fd
   * that has one replaces its callback.
   * @throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE, ERR_FD_OUT_OF_RANGE (select),
   *   ERR_FD_ALREADY_REGISTERED (the fd was registered on the selector directly), a system
   *   error such as EBADF for an fd that is not open, ERR_LOOP_CLOSED
   */
  addReader(fd: FileLike, cb: () => void): void {
    this.#checkOpen();
    const n = this.#userFd(fd);
    checkCallback(cb);
    if (this.#add(n, EVENT_READ, cb)) this.#ioCount++;
    this.#owners.track(fd, n);
    this.#embedded?.kick();
  }

  /**
   * Stops watching `fd` for reading. Returns false if it had no reader (a Socket closed while
   * watched has none: its close removed it). @throws ERR_LOOP_CLOSED
   */
  removeReader(fd: FileLike): boolean {
    this.#checkOpen();
    const n = this.#watchedFd(fd);
    if (n < 0 || n === this.#signals.wakeFd || !this.#remove(n, EVENT_READ)) return false;
    this.#ioCount--;
    this.#embedded?.refresh();
    return true;
  }

  /** Calls `cb` whenever `fd` is writable. Same rules and errors as addReader(). */
  addWriter(fd: FileLike, cb: () => void): void {
    this.#checkOpen();
    const n = this.#userFd(fd);
    checkCallback(cb);
    if (this.#add(n, EVENT_WRITE, cb)) this.#ioCount++;
    this.#owners.track(fd, n);
    this.#embedded?.kick();
  }

  /** Stops watching `fd` for writing. Returns false if it had no writer. @throws ERR_LOOP_CLOSED */
  removeWriter(fd: FileLike): boolean {
    this.#checkOpen();
    const n = this.#watchedFd(fd);
    if (n < 0 || !this.#remove(n, EVENT_WRITE)) return false;
    this.#ioCount--;
    this.#embedded?.refresh();
    return true;
  }

  /**
   * @internal Reads `fd` for `sink` in the iteration's native call (batch-io.ts); removed with
   * removeReader(). Only when _batch is not null.
   */
  _addAutoReader(fd: number, sink: ReadSink, most: number): void {
    this.#checkOpen();
    const batch = this.#batch!;
    if (this.#add(fd, EVENT_READ, autoReadMark)) this.#ioCount++;
    batch.attachSink(fd, sink, most);
    this.#embedded?.kick();
  }

  /** @internal The batched path, or null when the loop was made with { batch: false }. */
  get _batch(): BatchIo | null {
    return this.#batch;
  }

  // ---- callbacks and timers ----------------------------------------------------------------

  /** Runs `cb` in the next iteration, after those queued before it. @throws ERR_LOOP_CLOSED */
  callSoon(cb: () => void): Handle {
    this.#checkOpen();
    checkCallback(cb);
    const handle = new Handle(cb, -1, this.#seq++);
    this.#ready.push(handle);
    this.#embedded?.kick();
    return handle;
  }

  /**
   * Runs `cb` once, no earlier than `ms` milliseconds from now (negative counts as 0; Infinity
   * never fires but keeps the loop alive until cancelled). Equal deadlines run in the order the
   * timers were made.
   * @throws ERR_INVALID_ARG_TYPE (not a number), ERR_INVALID_ARG_VALUE (NaN), ERR_LOOP_CLOSED
   */
  callLater(ms: number, cb: () => void): Handle {
    this.#checkOpen();
    if (typeof ms !== 'number') throw invalidArgType('ms', 'a number of milliseconds', ms);
    if (Number.isNaN(ms)) throw invalidArgValue('ms', 'a number of milliseconds', ms);
    checkCallback(cb);
    return this.#schedule(performance.now() + (ms > 0 ? ms : 0), cb);
  }

  /**
   * Runs `cb` once, no earlier than `when` on the loop.time() clock (a past time runs it in the
   * next iteration; Infinity never fires but keeps the loop alive until cancelled). Equal
   * deadlines run in the order the timers were made, callLater()'s and callAt()'s alike.
   * @throws ERR_INVALID_ARG_TYPE (not a number), ERR_INVALID_ARG_VALUE (NaN), ERR_LOOP_CLOSED
   */
  callAt(when: number, cb: () => void): Handle {
    this.#checkOpen();
    if (typeof when !== 'number') throw invalidArgType('when', 'a loop.time() value in milliseconds', when);
    if (Number.isNaN(when)) throw invalidArgValue('when', 'a loop.time() value in milliseconds', when);
    checkCallback(cb);
    return this.#schedule(when, cb);
  }

  #schedule(when: number, cb: () => void): Handle {
    const handle = new Handle(cb, when, this.#seq++);
    handle._book = this.#book;
    this.#book.pending++;
    this.#timers.push(handle);
    this.#embedded?.kick();
    return handle;
  }

  /** Monotonic milliseconds (performance.now()), the clock callLater() counts in. */
  time(): number {
    this.#checkOpen();
    return performance.now();
  }

  // ---- running -----------------------------------------------------------------------------

  /**
   * Runs iterations until stop() is called or nothing is left to wait for: no readers, writers,
   * live timers or queued callbacks (signal handlers alone do not keep it running). Can be
   * called again after it returned.
   * @throws (rejects) ERR_LOOP_RUNNING, ERR_LOOP_CLOSED, or the selector's error if select fails
   */
  run(): Promise<void> {
    const refusal = this.#runRefusal();
    return refusal === null ? this.#runner.run() : Promise.reject(refusal);
  }

  /**
   * Runs the loop until `p` settles, then returns its value or throws its error.
   * @throws (rejects) ERR_LOOP_STOPPED if stop() ended the loop first, ERR_LOOP_STALLED if the loop
   *   ran out of things to wait for while `p` was still pending, ERR_LOOP_RUNNING, ERR_LOOP_CLOSED
   */
  async runUntilComplete<T>(p: Promise<T> | T): Promise<T> {
    const refusal = this.#runRefusal();
    if (refusal !== null) throw refusal;
    return this.#runner.runUntilComplete(p);
  }

  /**
   * Makes run() return after the current iteration. While attached, detaches (the iteration in
   * progress, if any, still finishes), which ends what run() would have ended. Does nothing when
   * the loop is neither running nor attached.
   * @throws ERR_LOOP_CLOSED
   */
  stop(): void {
    this.#checkOpen();
    if (this.#embedded !== null) this.detach();
    else this.#runner.stop();
  }

  /** True while run() (or runUntilComplete()) runs. */
  isRunning(): boolean {
    return this.#runner.running;
  }

  /** True once close() was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Closes the selector and the wake-up pipe, restores the signal dispositions it replaced and
   * drops every callback. Closing twice does nothing. After it, every other method throws
   * ERR_LOOP_CLOSED.
   * @throws ERR_LOOP_RUNNING (close from inside run(): stop() first)
   */
  close(): void {
    if (this.#closed) return;
    if (this.#runner.running) throw runningError();
    this.detach();
    this.#closed = true;
    this.#owners.clear();
    this.selector.close();
    this.#signals.close();
    this.#readers.length = this.#writers.length = this.#interest.length = 0;
    this.#readStamp.length = this.#writeStamp.length = 0;
    this.#batch?.clearSinks();
    this.#ioCount = 0;
    this.#ready.clear();
    this.#timers.clear();
    this.#book.pending = this.#book.cancelledInHeap = 0;
  }

  /** The same as close(), for `using loop = new Loop()`. */
  [Symbol.dispose](): void {
    this.close();
  }

  // ---- embedded in Node (embedded.ts) ------------------------------------------------------

  /**
   * Drives this loop from Node's event loop without blocking it, until detach() or close().
   * Node's process stays alive while the loop has readers, writers, timers or callbacks. Works
   * on every backend: select and poll wait on a native thread meanwhile (embedded.ts).
   * @throws ERR_LOOP_RUNNING while run() runs, ERR_LOOP_CLOSED, a system error if libuv cannot
   *   watch the selector's fd or the wait thread cannot start, ERR_FD_OUT_OF_RANGE (select, see
   *   embedded.ts)
   */
  attach(): void {
    this.#checkOpen();
    if (this.#runner.running) throw runningError();
    if (this.#embedded !== null) return;
    this.#embedded = new EmbeddedDriver(this.selector, this.#embeddedHost);
  }

  /** Hands the loop back: Node stops driving it; run() may be used again. Safe to call twice. */
  detach(): void {
    const driver = this.#embedded;
    this.#embedded = null;
    driver?.close();
  }

  /** `Loop { backend: 'epoll', running: false, attached: false, closed: false }` */
  [inspect.custom](depth: number, options: InspectOptionsStylized): string {
    const fields = {
      backend: this.selector.backend,
      running: this.isRunning(),
      attached: this.isAttached(),
      closed: this.closed,
    };
    return describeObject('Loop', fields, depth, options);
  }

  /** True between attach() and detach(). */
  isAttached(): boolean {
    return this.#embedded !== null;
  }

  // ---- signals (signals.ts) ----------------------------------------------------------------

  /**
   * Calls `cb` in the loop whenever the process receives `sig`, replacing the signal's current
   * disposition (Node's own `process.on(sig)` listeners no longer see it) until
   * removeSignalHandler() or close() restores it. A signal wakes a waiting select. Adding a
   * handler for a signal that has one replaces it. Install Node listeners for the same signal
   * before this, not after: Node's first `process.on(sig)` installs its own handler over ours.
   * @throws ERR_INVALID_ARG_VALUE for an unknown name, SIGKILL or SIGSTOP, or a signal another
   *   open Loop handles; a system error if sigaction fails; ERR_LOOP_CLOSED
   */
  addSignalHandler(sig: NodeJS.Signals, cb: () => void): void {
    this.#checkOpen();
    this.#signals.add(sig, cb);
  }

  /**
   * Removes the handler for `sig` and restores the disposition it replaced.
   * Returns false if `sig` had no handler.
   * @throws ERR_INVALID_ARG_VALUE for an unknown name, SIGKILL or SIGSTOP; ERR_LOOP_CLOSED
   */
  removeSignalHandler(sig: NodeJS.Signals): boolean {
    this.#checkOpen();
    return this.#signals.remove(sig);
  }

  /**
   * Sets the function that receives errors thrown by callbacks, with a context naming the
   * callback and its fd, handle or signal. null or undefined restores the default, which prints
   * both with console.error. The loop goes on either way.
   * @throws ERR_INVALID_ARG_TYPE, ERR_LOOP_CLOSED
   */
  setExceptionHandler(h: ExceptionHandler | null | undefined): void {
    this.#checkOpen();
    if (h === null || h === undefined) {
      this.#exceptionHandler = defaultExceptionHandler;
      return;
    }
    checkCallback(h, 'handler');
    this.#exceptionHandler = h;
  }

  /**
   * Hands `err` to the exception handler with `context`, as a callback that threw would
   * (asyncio's call_exception_handler). Layers above the loop use it for errors they catch.
   */
  callExceptionHandler(err: unknown, context: ExceptionContext): void {
    this.#report(err, context);
  }

  // ---- the iteration -----------------------------------------------------------------------

  /** Milliseconds to wait: 0, a positive delay, null (forever) or NOTHING_LEFT. */
  #timeout(): number | null {
    if (this.#ready.size > 0) return 0;
    const book = this.#book;
    const timers = this.#timers;
    if (book.pending > 0) {
      if (book.cancelledInHeap > MIN_CANCELLED_TO_COMPACT && book.cancelledInHeap * 2 > timers.size) {
        timers.filter(isLive);
        book.cancelledInHeap = 0;
      }
      // pending > 0: a live timer is in the heap, so this ends.
      let top = timers.peek()!;
      while (top._cancelled) {
        timers.pop();
        book.cancelledInHeap--;
        top = timers.peek()!;
      }
      const wait = top._when - performance.now();
      // The selector rounds a fraction up to whole ms, so the wait never ends before the deadline.
      return wait > 0 ? wait : 0;
    }
    if (timers.size > 0) {
      timers.clear(); // only cancelled timers are left
      book.cancelledInHeap = 0;
    }
    // A lookup on a native helper thread (names.ts) is waited for like I/O: its wake byte ends the wait.
    if (this.#ioCount > 0 || this.#signals.helperPending > 0) return null;
    // Writes queued by the last iteration (a closing transport's, say) still go out first.
    return this.#batch?.hasWrites === true ? 0 : NOTHING_LEFT;
  }

  /** One iteration (see the top of the file); returns true if it ran any callback. */
  #runOnce(timeout: number | null): boolean {
    const batch = this.#batch;
    let count: number;
    if (batch !== null) {
      batch.deferring = true;
      batch.beginCycle();
      count = this.selector._cycle(timeout);
    } else {
      count = this.selector.selectRaw(timeout);
    }
    const epoch = ++this.#epoch;
    const seqLimit = this.#seq;
    let ran = count;

    // Callbacks queued before this iteration. Those they queue wait for the next one.
    const ready = this.#ready;
    let n = ready.size;
    ran += n;
    while (n-- > 0) {
      const handle = ready.shift()!;
      const cb = handle._callback;
      if (cb === null) continue;
      handle._callback = null;
      try {
        cb();
      } catch (err) {
        this.#report(err, { message: 'Exception in callback', callback: cb, handle });
      }
    }

    if (count > 0) this.#dispatch(count, epoch);
    if (this.#book.pending > 0) ran += this.#runTimers(seqLimit);
    return ran > 0;
  }

  #dispatch(count: number, epoch: number): void {
    const batch = this.#batch;
    // Records are (fd, mask, offset, length) on the batched path, (fd, mask) pairs otherwise.
    const results = batch !== null ? batch.records : this.selector.ready;
    const stride = batch !== null ? RECORD_INTS : 2;
    const readers = this.#readers;
    const writers = this.#writers;
    const readStamp = this.#readStamp;
    const writeStamp = this.#writeStamp;
    // i < count, and the native side wrote count records: the indexing needs no checks.
    for (let i = 0; i < count; i++) {
      const at = stride * i;
      const fd = results[at]!;
      const mask = results[at + 1]!;
      if ((mask & EVENT_READ) !== 0) {
        const cb = readers[fd];
        const live = readStamp[fd] !== epoch;
        const length = batch !== null ? results[at + 3]! : NOT_READ;
        if (cb === autoReadMark) {
          // A sink's record: data, EOF, -errno, NOT_READ (readable, no read wanted) or NO_ROOM.
          if (length === NO_ROOM) {
            if (live) batch!.readForSink(fd, this.#onSinkError);
          } else if (length !== NOT_READ || live) {
            batch!.deliver(fd, live, results[at + 2]!, length, this.#onSinkError);
          }
        } else if (length !== NOT_READ && length !== NO_ROOM) {
          // Read for a sink that left during this iteration (its reader was replaced).
          batch!.deliver(fd, false, results[at + 2]!, length, this.#onSinkError);
        } else if (cb !== undefined && live) {
          try {
            cb();
          } catch (err) {
            this.#report(err, { message: `Exception in reader callback for fd ${fd}`, callback: cb, fd });
          }
        }
      }
      if ((mask & EVENT_WRITE) !== 0) {
        const cb = writers[fd];
        if (cb !== undefined && writeStamp[fd] !== epoch) {
          try {
            cb();
          } catch (err) {
            this.#report(err, { message: `Exception in writer callback for fd ${fd}`, callback: cb, fd });
          }
        }
      }
    }
  }

  readonly #onSinkError = (err: unknown, fd: number): void =>
    this.#report(err, { message: `Exception in reader callback for fd ${fd}`, fd });

  /** Runs the due timers made before this iteration (seq < seqLimit); returns how many ran. */
  #runTimers(seqLimit: number): number {
    const timers = this.#timers;
    const book = this.#book;
    const now = performance.now();
    let ran = 0;
    for (;;) {
      const top = timers.peek();
      // A timer made during this iteration has a deadline >= now, so once one is on top no
      // older timer is due: older ones with the same deadline sort before it.
      if (top === undefined || top._when > now || top._seq >= seqLimit) break;
      timers.pop();
      if (top._cancelled) {
        book.cancelledInHeap--;
        continue;
      }
      book.pending--;
      top._book = null;
      const cb = top._callback!;
      top._callback = null;
      ran++;
      try {
        cb();
      } catch (err) {
        this.#report(err, { message: 'Exception in timer callback', callback: cb, handle: top });
      }
    }
    return ran;
  }

  /** @internal The signal table, whose wake pipe also completes getaddrinfo lookups (loop.ts). */
  protected get _signals(): SignalTable {
    return this.#signals;
  }

  #report(err: unknown, context: ExceptionContext): void {
    reportException(this.#exceptionHandler, err, context);
  }

  // ---- registration bookkeeping --------------------------------------------------------------

  /** fdOf() plus: not one of the loop's own wake-pipe fds. */
  #userFd(fd: FileLike): number {
    const n = fdOf(fd, 'fd');
    if (this.#signals.owns(n)) {
      throw invalidArgValue('fd', "a file descriptor that is not the loop's own wake-up pipe", n);
    }
    return n;
  }

  /** The fd of a file object to remove; one whose fileno() fails (closed) by identity, or -1. */
  #watchedFd(fd: FileLike): number {
    const n = fdOrNull(fd, 'fd');
    return n !== null ? n : this.#owners.find(fd);
  }

  /**
   * Adds or replaces the reader (bit = EVENT_READ) or writer of fd; one registration per fd.
   * Returns false when it only replaced a callback.
   */
  #add(fd: number, bit: number, cb: Callback): boolean {
    const table = bit === EVENT_READ ? this.#readers : this.#writers;
    if (fd < table.length && table[fd] !== undefined) {
      if (table[fd] === autoReadMark && cb !== autoReadMark) this.#batch!.detachSink(fd);
      table[fd] = cb;
      return false;
    }
    const interest = fd < this.#interest.length ? this.#interest[fd]! : 0;
    // The selector fails atomically (EBADF, ERR_FD_OUT_OF_RANGE ...): nothing here changes then.
    if (interest === 0) this.selector.register(fd, bit);
    else this.selector.modify(fd, interest | bit);
    this.#grow(fd);
    table[fd] = cb;
    this.#interest[fd] = interest | bit;
    (bit === EVENT_READ ? this.#readStamp : this.#writeStamp)[fd] = this.#epoch;
    return true;
  }

  #remove(fd: number, bit: number): boolean {
    const table = bit === EVENT_READ ? this.#readers : this.#writers;
    if (fd >= table.length || table[fd] === undefined) return false;
    const rest = this.#interest[fd]! & ~bit; // fd < table.length, and #grow() keeps both sizes equal
    if (table[fd] === autoReadMark) this.#batch!.detachSink(fd);
    if (rest === 0) {
      this.selector.unregister(fd);
      this.#owners.untrack(fd);
    } else {
      this.selector.modify(fd, rest);
    }
    table[fd] = undefined;
    this.#interest[fd] = rest;
    return true;
  }

  /** Grows the per-fd tables to hold fd, with push so they stay packed and keep their identity. */
  #grow(fd: number): void {
    const readers = this.#readers;
    while (readers.length <= fd) {
      readers.push(undefined);
      this.#writers.push(undefined);
      this.#interest.push(0);
      this.#readStamp.push(-1);
      this.#writeStamp.push(-1);
    }
  }

  #checkOpen(): void {
    if (this.#closed) throw closedError();
  }

  /** Why run() may not start now, or null. */
  #runRefusal(): Error | null {
    if (this.#closed) return closedError();
    if (this.#runner.running) return runningError();
    if (this.#embedded !== null) {
      return iomuxError('ERR_LOOP_RUNNING', "The loop is attached to Node's event loop; detach() before run()");
    }
    return null;
  }
}

function closedError(): Error {
  return iomuxError('ERR_LOOP_CLOSED', 'The loop is closed');
}

function runningError(): Error {
  return iomuxError('ERR_LOOP_RUNNING', 'The loop is already running');
}
