// The Node-embedded mode (Loop.attach()): Node's own event loop drives the Loop instead of run().
// Each time the selector has something to report, a callSoon is queued or a timer is due, one
// iteration runs with a zero timeout. Nothing ever blocks, so Node's timers, I/O and promises go
// on beside iomux's callbacks. How Node hears of readiness depends on the backend:
// - epoll, kqueue: libuv polls the selector's own fd (FdWatch); the iteration's zero-timeout
//   wait collects what is ready.
// - select, poll (no fd of their own): a native thread runs the blocking wait (ThreadWatch,
//   native/wait_thread.h) and wakes Node's loop with the batch it found; the iteration's wait
//   returns that batch without blocking, and the thread waits again once it was dispatched.
import { constants } from 'node:os';
import { performance } from 'node:perf_hooks';
import { errnoError, iomuxError } from './errors.js';
import { native, type NativeWatch } from './native.js';
import type { BaseSelector } from './selectors.js';
import type { ExceptionContext } from './exceptions.js';

/** Negative, as native calls return them (errno values from the OS, never Linux numbers). */
const EAGAIN = -constants.errno.EAGAIN;
const EINVAL = -constants.errno.EINVAL;

/** setTimeout's largest delay; Node turns anything longer into 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What the driver needs from its Loop. */
export interface EmbeddedHost {
  /** Runs one iteration without waiting. */
  runOnce(): void;
  /** Milliseconds until the next iteration is due: 0, a positive delay, null (I/O only), or negative (nothing left). */
  timeout(): number | null;
  /** True while readers or writers wait: only they make the selector fd keep Node alive. */
  hasIo(): boolean;
  /** Hands an error to the loop's exception handler. */
  report(err: unknown, context: ExceptionContext): void;
  /** Called when an iteration failed: the loop drops this driver (and should close() it). */
  detach(): void;
}

/**
 * Schedules a Loop's iterations on Node's event loop: when the selector reports, at the earliest
 * timer, or at once (setImmediate) when something was queued.
 * @throws a system error if libuv cannot watch the selector's fd (syscall 'uv_poll_init') or the
 *   wait thread cannot start ('eventfd' or 'pipe', 'pthread_create'); ERR_FD_OUT_OF_RANGE when
 *   select's wake-up fd would not be below FD_SETSIZE
 */
export class EmbeddedDriver {
  readonly #host: EmbeddedHost;
  readonly #selector: BaseSelector;
  #watch: NativeWatch;
  #immediate: NodeJS.Immediate | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** performance.now() at which #timer fires; Infinity when none is set. */
  #timerAt = Infinity;
  #closed = false;
  /** True while an iteration runs: #schedule() follows it, so refresh() has nothing to do. */
  #ticking = false;
  /** Whether the watch holds Node's event loop open (saves a native call when unchanged). */
  #refed = true;

  constructor(selector: BaseSelector, host: EmbeddedHost) {
    this.#host = host;
    this.#selector = selector;
    this.#watch = startWatch(selector, this.#tick);
    // epoll's dup pitfall repair replaces the kernel object behind that fd (DESIGN §6.1): libuv
    // then watches a file that is gone, so the watch starts again on the new one.
    selector.onBackendFdChange = () => {
      if (this.#closed) return;
      this.#watch.close();
      try {
        this.#watch = startWatch(selector, this.#tick);
      } catch (err) {
        this.#host.report(err, { message: 'The selector fd could not be watched again; detaching' });
        this.#host.detach();
        return;
      }
      this.#refed = true; // a new watch holds Node until #schedule() says otherwise
      this.#schedule();
    };
    this.#schedule();
  }

  /** Something was queued from outside an iteration: make sure one comes. */
  kick(): void {
    if (this.#immediate === null) this.#immediate = setImmediate(this.#tick);
  }

  /**
   * Work was removed from outside an iteration (a Node callback called removeReader, cancel() ...):
   * re-evaluates what keeps Node alive, so that a loop left with nothing lets the process exit.
   */
  refresh(): void {
    if (!this.#closed && !this.#ticking) this.#schedule();
  }

  /** Stops for good: no more iterations, and Node is no longer kept alive. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#selector.onBackendFdChange = null;
    this.#watch.close();
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#immediate = this.#timer = null;
  }

  readonly #tick = (): void => {
    if (this.#closed) return;
    this.#immediate = null;
    this.#ticking = true;
    try {
      this.#host.runOnce();
    } catch (err) {
      this.#host.report(err, { message: 'The selector failed while attached to Node; detaching' });
      this.#host.detach();
      return;
    } finally {
      this.#ticking = false;
    }
    // A callback may have detached or closed the loop.
    if (!this.#closed) this.#schedule();
  };

  /**
   * Arranges the next iteration: at once, at the earliest timer, or when the selector reports.
   * Also drops what no longer has a reason to hold Node: a timer set for a deadline that was
   * cancelled, and the watch's ref once no reader or writer is left.
   */
  #schedule(): void {
    const timeout = this.#host.timeout();
    if (timeout === 0) {
      this.kick();
    } else if (timeout !== null && timeout > 0) {
      const at = performance.now() + timeout;
      if (this.#timer === null || at < this.#timerAt - 1) {
        if (this.#timer !== null) clearTimeout(this.#timer);
        // setTimeout counts whole ms and may fire a little early; the iteration then finds
        // the timer not yet due and schedules again. Past 2**31-1 ms Node would fire after 1 ms
        // (TimeoutOverflowWarning), so a far deadline is reached in steps of that size.
        this.#timer = setTimeout(this.#onTimer, Math.min(Math.ceil(timeout), MAX_TIMER_MS));
        this.#timerAt = at;
      }
    } else if (this.#timer !== null) {
      // No live timer is left (cancelled): Node must not wait for its old deadline.
      clearTimeout(this.#timer);
      this.#timer = null;
      this.#timerAt = Infinity;
    }
    // Keep Node alive only while readers or writers wait; timers and immediates hold it themselves.
    const refed = this.#host.hasIo();
    if (refed !== this.#refed) {
      this.#refed = refed;
      if (refed) this.#watch.ref();
      else this.#watch.unref();
    }
  }

  readonly #onTimer = (): void => {
    this.#timer = null;
    this.#timerAt = Infinity;
    this.#tick();
  };
}

/** The watch that tells Node's loop when `selector` has something to report (see the top). */
function startWatch(selector: BaseSelector, onReady: () => void): NativeWatch {
  const handle = selector._nativeHandle();
  // fileno(), not the native fd: a subclass may say which fd stands for the selector.
  const pollable = selector as BaseSelector & { fileno?: () => number };
  const fd = typeof pollable.fileno === 'function' ? pollable.fileno() : -1;
  if (fd >= 0) {
    const watch = new native.FdWatch(onReady);
    const rc = watch.start(fd);
    if (rc < 0) {
      watch.close();
      throw errnoError(rc, 'uv_poll_init');
    }
    return watch;
  }
  const watch = new native.ThreadWatch(onReady);
  const rc = watch.start(handle);
  if (rc < 0) {
    watch.close();
    if (rc === EINVAL && selector.backend === 'select') {
      throw iomuxError(
        'ERR_FD_OUT_OF_RANGE',
        `attach(): the select wait thread needs a free file descriptor below FD_SETSIZE (${native.FD_SETSIZE})`,
        RangeError,
      );
    }
    // The wake fd is an eventfd on Linux, a pipe elsewhere (native/wait_thread.cc).
    throw errnoError(rc, rc === EAGAIN ? 'pthread_create' : process.platform === 'linux' ? 'eventfd' : 'pipe');
  }
  return watch;
}
