// The Node-embedded mode (Loop.attach()): Node's own event loop drives the Loop instead of run().
// libuv watches the selector's fd (epoll and kqueue fds are themselves pollable), and each time
// it is readable, a callSoon is queued or a timer is due, one iteration runs with a zero timeout.
// Nothing ever blocks, so Node's timers, I/O and promises go on beside iomux's callbacks.
import { performance } from 'node:perf_hooks';
import { errnoError, iomuxError } from './errors.js';
import { native, type NativeFdWatch } from './native.js';
import type { BaseSelector } from './selectors.js';
import type { ExceptionContext } from './exceptions.js';

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
 * Schedules a Loop's iterations on Node's event loop: on the selector fd's readiness, at the
 * earliest timer, or at once (setImmediate) when something was queued.
 * @throws ERR_BACKEND_UNAVAILABLE for a selector without a pollable fd (select, poll); a system
 *   error (syscall 'uv_poll_init') if libuv cannot watch the selector's fd
 */
export class EmbeddedDriver {
  readonly #host: EmbeddedHost;
  readonly #selector: BaseSelector;
  #watch: NativeFdWatch;
  #immediate: NodeJS.Immediate | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** performance.now() at which #timer fires; Infinity when none is set. */
  #timerAt = Infinity;
  #closed = false;

  constructor(selector: BaseSelector, host: EmbeddedHost) {
    const pollable = selector as BaseSelector & { fileno?: () => number };
    if (typeof pollable.fileno !== 'function') {
      throw iomuxError('ERR_BACKEND_UNAVAILABLE',
        `attach() needs a selector whose own fd can be polled (epoll or kqueue); ${selector.backend} has none`);
    }
    const fileno = pollable.fileno.bind(pollable);
    this.#watch = this.#watchFd(fileno());
    this.#host = host;
    this.#selector = selector;
    // epoll's dup pitfall repair replaces the kernel object behind that fd (DESIGN §6.1): libuv
    // then watches a file that is gone, so the watch starts again on the new one.
    selector.onBackendFdChange = () => {
      if (this.#closed) return;
      this.#watch.close();
      try {
        this.#watch = this.#watchFd(fileno());
      } catch (err) {
        this.#host.report(err, { message: 'The selector fd could not be watched again; detaching' });
        this.#host.detach();
        return;
      }
      this.#schedule();
    };
    this.#schedule();
  }

  #watchFd(fd: number): NativeFdWatch {
    const watch = new native.FdWatch(this.#tick);
    const rc = watch.start(fd);
    if (rc < 0) {
      watch.close();
      throw errnoError(rc, 'uv_poll_init');
    }
    return watch;
  }

  /** Something was queued from outside an iteration: make sure one comes. */
  kick(): void {
    if (this.#immediate === null) this.#immediate = setImmediate(this.#tick);
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
    try {
      this.#host.runOnce();
    } catch (err) {
      this.#host.report(err, { message: 'The selector failed while attached to Node; detaching' });
      this.#host.detach();
      return;
    }
    // A callback may have detached or closed the loop.
    if (!this.#closed) this.#schedule();
  };

  /** Arranges the next iteration: at once, at the earliest timer, or when the selector fd fires. */
  #schedule(): void {
    const timeout = this.#host.timeout();
    if (timeout === 0) {
      this.kick();
    } else if (timeout !== null && timeout > 0) {
      const at = performance.now() + timeout;
      if (this.#timer === null || at < this.#timerAt - 1) {
        if (this.#timer !== null) clearTimeout(this.#timer);
        // setTimeout counts whole ms and may fire a little early; the iteration then finds
        // the timer not yet due and schedules again.
        this.#timer = setTimeout(this.#onTimer, Math.ceil(timeout));
        this.#timerAt = at;
      }
    } else if (this.#timer !== null) {
      // No live loop timer is left (the one armed for was cancelled, e.g. a completed
      // operation's timeout): a Node timer kept for it would hold the process until it fired.
      clearTimeout(this.#timer);
      this.#timer = null;
      this.#timerAt = Infinity;
    }
    // Keep Node alive only while readers or writers wait; timers and immediates hold it themselves.
    if (this.#host.hasIo()) this.#watch.ref();
    else this.#watch.unref();
  }

  readonly #onTimer = (): void => {
    this.#timer = null;
    this.#timerAt = Infinity;
    this.#tick();
  };
}
