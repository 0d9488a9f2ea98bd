// The event loop (DESIGN §3 "Loop"): readers and writers on fds, a ready queue, timers on a heap,
// signals through a wake-up pipe, run/stop/close. Like asyncio's selector loop, it owns the
// thread while it waits in the selector; unlike it, it lives beside Node's own loop, so it must
// also keep promise continuations moving (see "Microtasks" below).
//
// One iteration (#runOnce), the phases in order:
//   timeout  0 if the ready queue is not empty, else until the earliest live timer, else forever
//   select   selector.selectRaw(timeout): (fd, mask) pairs land in selector.ready
//   ready    the callbacks queued before this iteration, first in first out
//   I/O      the reader and writer of each ready fd, in the order the selector reported them
//   timers   the due timers, by (deadline, sequence)
// Anything a callback schedules (callSoon, a timer due at once, a new reader's readiness) runs
// in a later iteration, so a callback that re-schedules itself never starves I/O.
//
// Hot path: dispatching a ready fd reads the pair from selector.ready, indexes the per-fd
// callback array, checks the registration stamp and calls. No allocation, no closure, no Map.
//
// Stale events: every reader and writer carries the iteration in which it was added (#epoch is
// bumped right after each select). A registration made after this batch was selected (e.g. a
// callback closed fd N, opened a new fd N and added a reader) has the current epoch, and the
// batch's readiness for N is not delivered to it. Removed callbacks are simply gone from the
// array. (libuv invalidates the rest of the batch instead; the stamp costs one compare.)
//
// Microtasks: run() is async and Node drains promise jobs and nextTicks only between
// macrotasks, so a loop that kept selecting inside one macrotask would block while a callback's
// promise continuations (an `await` chain that ends in addReader) are still pending. After every
// iteration that ran a callback, and before the next select (blocking or not), the loop drains
// them in place with Node's runNextTicks (`process._tickCallback`: the function Node itself runs
// between two setImmediate callbacks; nextTicks and microtasks until both queues are empty).
// So continuations always run between two iterations, and a busy loop never starves them.
// `_tickCallback` is undocumented (DEP0134, documentation-only: --pending-deprecation prints a
// warning once), so it is probed on the first run() (a queued microtask must have run) and the
// loop falls back to a setImmediate yield after each iteration that ran callbacks if it fails.
// Measured (Node 20, x86-64, 2 vCPUs; user CPU): the drain alone costs ~14 ns when the queues
// are empty; a whole iteration of run() with one ready reader costs ~220-260 ns with the in-place
// drain (most of it the selectRaw N-API call) against ~1.05-1.3 us with the setImmediate
// fallback; dispatch costs ~7-10 ns per ready fd with 100-1000 ready fds.
import { constants as osConstants } from 'node:os';
import { performance } from 'node:perf_hooks';
import { errnoError, iomuxError, invalidArgType, invalidArgValue } from './errors.js';
import { Handle, HandleQueue, type TimerBook } from './handle.js';
import { native } from './native.js';
import { BaseSelector, EVENT_READ, EVENT_WRITE, createSelector, fdOf, type FileLike } from './selectors.js';
import { TimerHeap } from './timer-heap.js';
import * as aio from './aio.js';
import * as transports from './transports.js';
import type { Address, Socket } from './socket.js';
import type { ConnectOptions, ListenOptions, Protocol, Server, Transport } from './transports.js';

export { Handle };

type Callback = () => void;

/** What the exception handler receives beside the error. */
export interface ExceptionContext {
  readonly message: string;
  readonly callback?: Callback;
  readonly fd?: number;
  readonly handle?: Handle;
  readonly signal?: string;
}

export type ExceptionHandler = (err: unknown, context: ExceptionContext) => void;

export interface LoopOptions {
  /** Selector backend to create ('select', 'poll', 'epoll', 'kqueue'); default: the best. */
  backend?: string;
  /** A selector to poll instead (the loop owns it from now on and closes it on close()). */
  selector?: BaseSelector;
}

const EAGAIN = -osConstants.errno.EAGAIN;
const EINTR = -osConstants.errno.EINTR;
const SIGNALS = osConstants.signals as Readonly<Record<string, number>>;

/** Returned by #timeout() when nothing is left to wait for. */
const NOTHING_LEFT = -1;
/** asyncio compacts its timer heap when cancelled timers pass this count and half the heap. */
const MIN_CANCELLED_TO_COMPACT = 64;

interface EmbeddedState {
  watch: { ref(): void; unref(): void; close(): void } | null;
  immediate: NodeJS.Immediate | null;
  timer: NodeJS.Timeout | null;
  /** performance.now() at which `timer` fires; Infinity when none is set. */
  timerAt: number;
}

/** Which loop watches each signal number: the native handler writes to one wake fd per signal. */
const signalOwners = new Map<number, Loop>();

function defaultExceptionHandler(err: unknown, context: ExceptionContext): void {
  const { message, ...rest } = context;
  console.error(`iomux: ${message}`, rest, err);
}

function checkCallback(cb: unknown, name = 'callback'): asserts cb is Callback {
  if (typeof cb !== 'function') throw invalidArgType(name, 'a function', cb);
}

function isLive(h: Handle): boolean {
  return !h._cancelled;
}

// ---- Draining microtasks in place (see "Microtasks" at the top) ---------------------------------

type Drain = 'unknown' | 'in-place' | 'immediate';
let drainMode: Drain = 'unknown';
const tickCallback = (process as unknown as { _tickCallback?: () => void })._tickCallback;

/** @internal For tests and benchmarks: force the fallback ('immediate') or re-probe ('unknown'). */
export function _setDrainMode(mode: Drain): void {
  drainMode = mode;
}

/** @internal Which mechanism the loop uses ('unknown' until the first run() probed it). */
export function _drainMode(): Drain {
  return drainMode;
}

/** Decides once whether runNextTicks drains here. Must run in a macrotask (a setImmediate). */
function probeDrain(): Drain {
  if (typeof tickCallback !== 'function') return 'immediate';
  let ran = false;
  queueMicrotask(() => void (ran = true));
  tickCallback();
  return ran ? 'in-place' : 'immediate';
}

/**
 * An event loop over one selector: readers and writers on fds, callbacks, timers and signals.
 * `run()` owns the thread while it waits in the selector: Node's own timers and I/O wait until it
 * returns, but promise continuations started by loop callbacks always make progress.
 */
export class Loop {
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
  /** User readers plus user writers: the wake pipe's reader does not keep the loop alive. */
  #ioCount = 0;

  readonly #ready = new HandleQueue();
  readonly #timers = new TimerHeap<Handle>();
  readonly #book: TimerBook = { pending: 0, cancelledInHeap: 0 };
  #seq = 0;

  #exceptionHandler: ExceptionHandler = defaultExceptionHandler;

  // Signals: a non-blocking pipe made on first use; the C handler writes the signal number to it.
  #wakeRead = -1;
  #wakeWrite = -1;
  readonly #signalHandlers = new Map<number, Callback>();
  readonly #wakeBuffer = new Uint8Array(64);

  #closed = false;
  /** Set while attach()ed: Node's loop drives the iterations (see "Embedded in Node" below). */
  #embedded: EmbeddedState | null = null;
  #running = false;
  #stopping = false;
  #ranSinceDrain = false;
  #runResolve: (() => void) | null = null;
  #runReject: ((err: unknown) => void) | null = null;
  /** Why the last run() ended: runUntilComplete() tells a stop() from an empty loop. */
  #lastEnd: 'stopped' | 'nothing-left' = 'nothing-left';

  /**
   * @param opts.backend a backend name for createSelector(), or
   * @param opts.selector a selector to use (not both)
   * @throws ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE, ERR_BACKEND_UNAVAILABLE
   */
  constructor(opts: LoopOptions = {}) {
    if (typeof opts !== 'object' || opts === null) throw invalidArgType('opts', 'an object', opts);
    const { backend, selector } = opts;
    if (selector !== undefined) {
      if (backend !== undefined) throw invalidArgValue('opts', 'either a backend or a selector, not both', opts, TypeError);
      if (!(selector instanceof BaseSelector)) throw invalidArgType('opts.selector', 'a BaseSelector', selector);
      if (selector.closed) throw invalidArgValue('opts.selector', 'an open selector', selector);
      this.selector = selector;
    } else {
      this.selector = createSelector(backend);
    }
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
    if (this.#embedded !== null) this.#kickEmbedded();
  }

  /** Stops watching `fd` for reading. Returns false if it had no reader. @throws ERR_LOOP_CLOSED */
  removeReader(fd: FileLike): boolean {
    this.#checkOpen();
    const n = fdOf(fd, 'fd');
    if (n === this.#wakeRead || !this.#remove(n, EVENT_READ)) return false;
    this.#ioCount--;
    return true;
  }

  /** Calls `cb` whenever `fd` is writable. Same rules and errors as addReader(). */
  addWriter(fd: FileLike, cb: () => void): void {
    this.#checkOpen();
    const n = this.#userFd(fd);
    checkCallback(cb);
    if (this.#add(n, EVENT_WRITE, cb)) this.#ioCount++;
    if (this.#embedded !== null) this.#kickEmbedded();
  }

  /** Stops watching `fd` for writing. Returns false if it had no writer. @throws ERR_LOOP_CLOSED */
  removeWriter(fd: FileLike): boolean {
    this.#checkOpen();
    const n = fdOf(fd, 'fd');
    if (!this.#remove(n, EVENT_WRITE)) return false;
    this.#ioCount--;
    return true;
  }

  // ---- callbacks and timers ----------------------------------------------------------------

  /** Runs `cb` in the next iteration, after those queued before it. @throws ERR_LOOP_CLOSED */
  callSoon(cb: () => void): Handle {
    this.#checkOpen();
    checkCallback(cb);
    const handle = new Handle(cb, -1, this.#seq++);
    this.#ready.push(handle);
    if (this.#embedded !== null) this.#kickEmbedded();
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
    const handle = new Handle(cb, performance.now() + (ms > 0 ? ms : 0), this.#seq++);
    handle._book = this.#book;
    this.#book.pending++;
    this.#timers.push(handle);
    if (this.#embedded !== null) this.#kickEmbedded();
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
    if (this.#closed) return Promise.reject(this.#closedError());
    if (this.#running) return Promise.reject(this.#runningError());
    if (this.#embedded !== null) return Promise.reject(this.#attachedError());
    this.#running = true;
    this.#stopping = false;
    this.#ranSinceDrain = false;
    return new Promise<void>((resolve, reject) => {
      this.#runResolve = resolve;
      this.#runReject = reject;
      // Start from a macrotask: the caller's pending microtasks run first (they may add work),
      // and the in-place drain only works outside a microtask.
      setImmediate(this.#slice);
    });
  }

  /**
   * Runs the loop until `p` settles, then returns its value or throws its error.
   * @throws (rejects) ERR_LOOP_STOPPED if stop() ended the loop first, ERR_LOOP_STALLED if the loop
   *   ran out of things to wait for while `p` was still pending, ERR_LOOP_RUNNING, ERR_LOOP_CLOSED
   */
  async runUntilComplete<T>(p: Promise<T> | T): Promise<T> {
    if (this.#closed) throw this.#closedError();
    if (this.#running) throw this.#runningError();
    if (this.#embedded !== null) throw this.#attachedError();
    const outcome: { state: 'pending' | 'fulfilled' | 'rejected'; value?: T; error?: unknown } = { state: 'pending' };
    let active = true;
    const settled = () => {
      if (active) this.stop();
    };
    Promise.resolve(p).then(
      (value) => { outcome.state = 'fulfilled'; outcome.value = value; settled(); },
      (error: unknown) => { outcome.state = 'rejected'; outcome.error = error; settled(); },
    );
    try {
      await this.run();
    } finally {
      active = false;
    }
    if (outcome.state === 'fulfilled') return outcome.value as T;
    if (outcome.state === 'rejected') throw outcome.error;
    if (this.#lastEnd === 'stopped') {
      throw iomuxError('ERR_LOOP_STOPPED', 'The loop was stopped before the promise passed to runUntilComplete() settled');
    }
    throw iomuxError('ERR_LOOP_STALLED',
      'The promise passed to runUntilComplete() is still pending, but the loop has nothing left to wait for ' +
      '(no readers, writers, timers or callbacks) that could settle it');
  }

  /**
   * Makes run() return after the current iteration. Does nothing when the loop is not running.
   * @throws ERR_LOOP_CLOSED
   */
  stop(): void {
    this.#checkOpen();
    if (this.#running) this.#stopping = true;
  }

  isRunning(): boolean {
    return this.#running;
  }

  isClosed(): boolean {
    return this.#closed;
  }

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
    if (this.#running) throw this.#runningError();
    this.detach();
    this.#closed = true;
    for (const signo of this.#signalHandlers.keys()) {
      native.signalUnwatch(signo);
      signalOwners.delete(signo);
    }
    this.#signalHandlers.clear();
    this.selector.close();
    if (this.#wakeRead >= 0) {
      native.close(this.#wakeRead);
      native.close(this.#wakeWrite);
      this.#wakeRead = this.#wakeWrite = -1;
    }
    this.#readers.length = this.#writers.length = this.#interest.length = 0;
    this.#readStamp.length = this.#writeStamp.length = 0;
    this.#ioCount = 0;
    this.#ready.clear();
    this.#timers.clear();
    this.#book.pending = this.#book.cancelledInHeap = 0;
    // Nothing will wake the async/await calls still waiting: reject them and free their sockets.
    aio.loopClosed(this);
  }

  // ---- Embedded in Node --------------------------------------------------------------------
  // attach() lets Node's own event loop drive this loop instead of run(): libuv watches the
  // selector's fd (epoll and kqueue fds are themselves pollable), and each time it is readable,
  // a callSoon is queued or a timer is due, one iteration runs with a zero timeout. Nothing ever
  // blocks, so Node's timers, I/O and promises go on beside iomux's callbacks.

  /**
   * Drives this loop from Node's event loop without blocking it, until detach() or close().
   * Node's process stays alive while the loop has readers, writers, timers or callbacks.
   * @throws ERR_BACKEND_UNAVAILABLE for select/poll (no pollable selector fd), ERR_LOOP_RUNNING
   *   while run() runs, ERR_LOOP_CLOSED
   */
  attach(): void {
    this.#checkOpen();
    if (this.#running) throw this.#runningError();
    if (this.#embedded !== null) return;
    const selector = this.selector as BaseSelector & { fileno?: () => number };
    if (typeof selector.fileno !== 'function') {
      throw iomuxError('ERR_BACKEND_UNAVAILABLE',
        `attach() needs a selector whose own fd can be polled (epoll or kqueue); ${selector.backend} has none`);
    }
    const state: EmbeddedState = { watch: null, immediate: null, timer: null, timerAt: Infinity };
    this.#embedded = state;
    state.watch = new native.FdWatch(selector.fileno(), this.#embeddedTick);
    this.#scheduleEmbedded(state);
  }

  /** Hands the loop back: Node stops driving it; run() may be used again. Safe to call twice. */
  detach(): void {
    const state = this.#embedded;
    if (state === null) return;
    this.#embedded = null;
    state.watch?.close();
    if (state.immediate !== null) clearImmediate(state.immediate);
    if (state.timer !== null) clearTimeout(state.timer);
  }

  /** True between attach() and detach(). */
  isAttached(): boolean {
    return this.#embedded !== null;
  }

  readonly #embeddedTick = (): void => {
    const state = this.#embedded;
    if (state === null) return;
    state.immediate = null;
    try {
      this.#runOnce(0);
    } catch (err) {
      this.#report(err, { message: 'The selector failed while attached to Node; detaching' });
      this.detach();
      return;
    }
    // A callback may have detached or closed the loop.
    if (this.#embedded === state) this.#scheduleEmbedded(state);
  };

  /** Something was queued from outside an iteration: make sure one comes. */
  #kickEmbedded(): void {
    const state = this.#embedded!;
    if (state.immediate === null) state.immediate = setImmediate(this.#embeddedTick);
  }

  /** Arranges the next iteration: at once, at the earliest timer, or when the selector fd fires. */
  #scheduleEmbedded(state: EmbeddedState): void {
    const timeout = this.#timeout();
    if (timeout === 0) {
      if (state.immediate === null) state.immediate = setImmediate(this.#embeddedTick);
    } else if (timeout !== null && timeout !== NOTHING_LEFT) {
      const at = performance.now() + timeout;
      if (state.timer === null || at < state.timerAt - 1) {
        if (state.timer !== null) clearTimeout(state.timer);
        // setTimeout counts whole ms and may fire a little early; the iteration then finds
        // the timer not yet due and schedules again.
        state.timer = setTimeout(() => {
          state.timer = null;
          state.timerAt = Infinity;
          this.#embeddedTick();
        }, Math.ceil(timeout));
        state.timerAt = at;
      }
    }
    // Keep Node alive only while readers or writers wait; timers and immediates hold it themselves.
    if (this.#ioCount > 0) state.watch?.ref();
    else state.watch?.unref();
  }

  // ---- signals -----------------------------------------------------------------------------

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
    const signo = signalNumber(sig);
    checkCallback(cb);
    const owner = signalOwners.get(signo);
    if (owner !== undefined && owner !== this) {
      throw invalidArgValue('sig', 'a signal no other open Loop handles (remove it there first)', sig);
    }
    if (owner === undefined) {
      this.#openWakePipe();
      const rc = native.signalWatch(signo, this.#wakeWrite);
      if (rc < 0) throw errnoError(rc, 'sigaction');
      signalOwners.set(signo, this);
    }
    this.#signalHandlers.set(signo, cb);
  }

  /**
   * Removes the handler for `sig` and restores the disposition it replaced.
   * Returns false if `sig` had no handler.
   * @throws ERR_INVALID_ARG_VALUE for an unknown name, SIGKILL or SIGSTOP; ERR_LOOP_CLOSED
   */
  removeSignalHandler(sig: NodeJS.Signals): boolean {
    this.#checkOpen();
    const signo = signalNumber(sig);
    if (!this.#signalHandlers.delete(signo)) return false;
    signalOwners.delete(signo);
    const rc = native.signalUnwatch(signo);
    if (rc < 0) throw errnoError(rc, 'sigaction');
    return true;
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

  // ---- async/await on sockets and transports (DESIGN §1) -------------------------------------
  // The code lives in aio.ts and transports.ts; these one-line delegates give them asyncio's names.

  /** Reads up to `n` bytes; resolves with a Buffer (empty at EOF). */
  sockRecv(s: Socket, n: number): Promise<Buffer> { return aio.sockRecv(this, s, n); }
  /** Reads into `buf`; resolves with the byte count (0 at EOF). */
  sockRecvInto(s: Socket, buf: Uint8Array): Promise<number> { return aio.sockRecvInto(this, s, buf); }
  /** Sends all of `data`, waiting for room as often as needed. */
  sockSendAll(s: Socket, data: Uint8Array): Promise<void> { return aio.sockSendAll(this, s, data); }
  /** Resolves with the next connection on a listening socket. */
  sockAccept(s: Socket): Promise<Socket> { return aio.sockAccept(this, s); }
  /** Connects; rejects with the connect error (e.g. ECONNREFUSED). */
  sockConnect(s: Socket, address: Address): Promise<void> { return aio.sockConnect(this, s, address); }
  /** Listens and makes a Transport and a Protocol (from `factory`) per connection. */
  createServer(factory: () => Protocol, opts: ListenOptions): Promise<Server> { return transports.createServer(this, factory, opts); }
  /** Connects and wraps the socket in a Transport driving the Protocol from `factory`. */
  createConnection(factory: () => Protocol, opts: ConnectOptions): Promise<[Transport, Protocol]> {
    return transports.createConnection(this, factory, opts);
  }

  // ---- the iteration -----------------------------------------------------------------------

  /**
   * One macrotask's worth of iterations. With the in-place drain, a run() is a single slice;
   * in 'immediate' mode the slice ends (and a setImmediate continues) whenever callbacks ran.
   */
  readonly #slice = (): void => {
    if (drainMode === 'unknown') drainMode = probeDrain();
    for (;;) {
      if (this.#ranSinceDrain) {
        this.#ranSinceDrain = false;
        if (drainMode !== 'in-place') {
          setImmediate(this.#slice);
          return;
        }
        try {
          tickCallback!(); // ~14 ns when nothing is pending (see "Microtasks" at the top)
        } catch (err) {
          // A nextTick callback threw: let Node treat it as it would have (uncaughtException),
          // and go on in a new macrotask if the process survives it.
          setImmediate(this.#slice);
          throw err;
        }
      }
      let more: boolean;
      try {
        more = this.#step();
      } catch (err) {
        this.#end(err);
        return;
      }
      if (!more) {
        this.#end(undefined);
        return;
      }
    }
  };

  /** Runs one iteration unless stopped or idle; returns false when run() should return. */
  #step(): boolean {
    if (this.#stopping) {
      this.#lastEnd = 'stopped';
      return false;
    }
    const timeout = this.#timeout();
    if (timeout === NOTHING_LEFT) {
      this.#lastEnd = 'nothing-left';
      return false;
    }
    this.#runOnce(timeout);
    return true;
  }

  #end(err: unknown): void {
    const resolve = this.#runResolve!;
    const reject = this.#runReject!;
    this.#runResolve = this.#runReject = null;
    this.#running = false;
    this.#stopping = false;
    if (err === undefined) resolve();
    else reject(err);
  }

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
    return this.#ioCount > 0 ? null : NOTHING_LEFT;
  }

  #runOnce(timeout: number | null): void {
    const count = this.selector.selectRaw(timeout);
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
    if (ran > 0) this.#ranSinceDrain = true;
  }

  #dispatch(count: number, epoch: number): void {
    const results = this.selector.ready;
    const readers = this.#readers;
    const writers = this.#writers;
    const readStamp = this.#readStamp;
    const writeStamp = this.#writeStamp;
    for (let i = 0; i < count; i++) {
      const fd = results[2 * i];
      const mask = results[2 * i + 1];
      if ((mask & EVENT_READ) !== 0) {
        const cb = readers[fd];
        if (cb !== undefined && readStamp[fd] !== epoch) {
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

  #report(err: unknown, context: ExceptionContext): void {
    try {
      this.#exceptionHandler(err, context);
    } catch (handlerErr) {
      defaultExceptionHandler(err, context);
      defaultExceptionHandler(handlerErr, { message: 'Exception in the exception handler' });
    }
  }

  // ---- registration bookkeeping --------------------------------------------------------------

  /** fdOf() plus: not one of the loop's own wake-pipe fds. */
  #userFd(fd: FileLike): number {
    const n = fdOf(fd, 'fd');
    if (n === this.#wakeRead || n === this.#wakeWrite) {
      throw invalidArgValue('fd', "a file descriptor that is not the loop's own wake-up pipe", n);
    }
    return n;
  }

  /**
   * Adds or replaces the reader (bit = EVENT_READ) or writer of fd; one registration per fd.
   * Returns false when it only replaced a callback.
   */
  #add(fd: number, bit: number, cb: Callback): boolean {
    const table = bit === EVENT_READ ? this.#readers : this.#writers;
    if (fd < table.length && table[fd] !== undefined) {
      table[fd] = cb;
      return false;
    }
    const interest = fd < this.#interest.length ? this.#interest[fd] : 0;
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
    const rest = this.#interest[fd] & ~bit;
    if (rest === 0) this.selector.unregister(fd);
    else this.selector.modify(fd, rest);
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

  #openWakePipe(): void {
    if (this.#wakeRead >= 0) return;
    const fds = native.pipe();
    if (typeof fds === 'number') throw errnoError(fds, 'pipe2');
    const [r, w] = fds;
    try {
      this.#add(r, EVENT_READ, this.#onWake);
    } catch (err) {
      native.close(r);
      native.close(w);
      throw err;
    }
    this.#wakeRead = r;
    this.#wakeWrite = w;
  }

  /** The wake pipe's reader: one byte per signal received; runs the handler of each. */
  readonly #onWake = (): void => {
    const buf = this.#wakeBuffer;
    for (;;) {
      const n = native.read(this.#wakeRead, buf, 0, buf.length);
      if (n === EINTR) continue;
      // EAGAIN: drained. (EOF cannot happen, the loop holds the write end; other errors neither.)
      if (n === EAGAIN || n <= 0) return;
      for (let i = 0; i < n; i++) {
        const cb = this.#signalHandlers.get(buf[i]);
        if (cb === undefined) continue; // removed since the signal arrived
        try {
          cb();
        } catch (err) {
          this.#report(err, { message: `Exception in signal handler for ${signalName(buf[i])}`, callback: cb, signal: signalName(buf[i]) });
        }
      }
      if (n < buf.length) return;
    }
  };

  #checkOpen(): void {
    if (this.#closed) throw this.#closedError();
  }

  #closedError(): Error {
    return iomuxError('ERR_LOOP_CLOSED', 'The loop is closed');
  }

  #attachedError(): Error {
    return iomuxError('ERR_LOOP_RUNNING', 'The loop is attached to Node\'s event loop; detach() before run()');
  }

  #runningError(): Error {
    return iomuxError('ERR_LOOP_RUNNING', 'The loop is already running');
  }
}

function signalNumber(sig: unknown): number {
  if (typeof sig !== 'string') throw invalidArgType('sig', "a signal name such as 'SIGINT'", sig);
  if (sig === 'SIGKILL' || sig === 'SIGSTOP') {
    throw invalidArgValue('sig', 'a signal that can be caught (SIGKILL and SIGSTOP cannot)', sig);
  }
  const signo = Object.hasOwn(SIGNALS, sig) ? SIGNALS[sig] : undefined;
  if (signo === undefined) throw invalidArgValue('sig', "a known signal name such as 'SIGINT'", sig);
  return signo;
}

function signalName(signo: number): string {
  for (const name in SIGNALS) if (SIGNALS[name] === signo) return name;
  return `signal ${signo}`;
}
