// Timeouts and cancellation for one waiting operation (DESIGN §6.4): `{ signal, timeout }`.
//
// The timeout is a loop timer, not a Node timer: Node's timers cannot fire while run() owns the
// thread. An abort from a loop callback (or, when attached, from Node code) runs the abort
// listener at once. Either way the guard calls the operation's cancel hook, which releases the
// waiter without touching the socket, so nothing is consumed. An operation that completes calls
// done(): the timer is cancelled and the listener removed, so neither keeps run() alive or leaks.
import { constants as osConstants } from 'node:os';
import type { Loop } from './loop.js';
import type { Handle } from './handle.js';
import { errnoError, invalidArgType, invalidArgValue } from './errors.js';

/** The last, optional argument of every `sock*` method and of getaddrinfo(). */
export interface WaitOptions {
  /** Aborting it rejects the operation with an AbortError (code 'ABORT_ERR', cause = signal.reason). */
  signal?: AbortSignal;
  /** Milliseconds to wait at most (a loop timer); rejects with code 'ETIMEDOUT'. <= 0: do not wait. */
  timeout?: number;
}

/** Node's AbortError shape: name 'AbortError', code 'ABORT_ERR', the signal's reason as cause. */
export function abortError(signal: AbortSignal): Error & { code: 'ABORT_ERR' } {
  const err = new Error('The operation was aborted', { cause: signal.reason }) as Error & { code: 'ABORT_ERR' };
  err.name = 'AbortError';
  err.code = 'ABORT_ERR';
  return err;
}

/** `ETIMEDOUT: connection timed out, <operation>`, shaped like a failed syscall. */
export function timeoutError(operation: string): Error {
  return errnoError(-osConstants.errno.ETIMEDOUT, operation);
}

/** Validates the options; returns them, or undefined when there is nothing to guard. */
export function checkWaitOptions(opts: unknown): WaitOptions | undefined {
  if (opts === undefined || opts === null) return undefined;
  if (typeof opts !== 'object') throw invalidArgType('options', 'an object { signal, timeout }', opts);
  const { signal, timeout } = opts as WaitOptions;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidArgType('options.signal', 'an AbortSignal', signal);
  }
  if (timeout !== undefined && timeout !== null) {
    if (typeof timeout !== 'number') throw invalidArgType('options.timeout', 'a number of milliseconds', timeout);
    if (Number.isNaN(timeout)) throw invalidArgValue('options.timeout', 'a number of milliseconds', timeout);
  }
  if (signal === undefined && (timeout === undefined || timeout === null)) return undefined;
  return opts;
}

/**
 * One operation's timer and abort listener. While the operation waits, `hook` is how to release
 * its waiter; once the guard fires, `error` holds the reason and every later wait() rejects.
 */
export class WaitGuard {
  error: Error | null = null;
  readonly #signal: AbortSignal | undefined;
  #timer: Handle | null = null;
  #hook: ((err: Error) => void) | null = null;
  #done = false;

  /**
   * @throws the AbortError at once when the signal is already aborted (before any syscall)
   */
  constructor(loop: Loop, opts: WaitOptions, operation: string) {
    const { signal, timeout } = opts;
    if (signal?.aborted) throw abortError(signal);
    // The timer first: a closed loop throws here, before a listener could be left behind.
    if (typeof timeout === 'number' && timeout !== Infinity) {
      this.#timer = loop.callLater(timeout, () => {
        this.#timer = null;
        this.#fire(timeoutError(operation));
      });
    }
    this.#signal = signal;
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  /**
   * Starts a wait and takes the hook that releases it (asked for after `start`, so it can name
   * the waiter just made); rejects at once, without starting, if the guard already fired.
   */
  wait<T>(start: () => Promise<T>, canceller: () => (err: Error) => void): Promise<T> {
    if (this.error !== null) return Promise.reject(this.error);
    const p = start();
    this.#hook = canceller();
    return p;
  }

  /** The operation is over: no timer, no listener, no hook. Safe to call twice. */
  done(): void {
    if (this.#done) return;
    this.#done = true;
    this.#hook = null;
    this.#timer?.cancel();
    this.#timer = null;
    this.#signal?.removeEventListener('abort', this.#onAbort);
  }

  readonly #onAbort = (): void => {
    this.#fire(abortError(this.#signal!));
  };

  #fire(err: Error): void {
    if (this.#done || this.error !== null) return;
    this.error = err;
    const hook = this.#hook;
    this.#hook = null;
    hook?.(err);
  }
}

/**
 * Runs `op` under a guard made from `opts` (none when opts is undefined): done() whatever happens.
 * The guard's constructor throws for an already-aborted signal, which becomes a rejection here.
 */
export async function guarded<T>(
  loop: Loop,
  opts: WaitOptions | undefined,
  operation: string,
  op: (guard: WaitGuard | null) => Promise<T>,
): Promise<T> {
  const guard = opts === undefined ? null : new WaitGuard(loop, opts, operation);
  try {
    return await op(guard);
  } finally {
    guard?.done();
  }
}
