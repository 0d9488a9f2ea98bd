// Signals for a Loop, as asyncio's unix_events does them: the native handler writes the signal
// number to a non-blocking wake-up pipe (made on first use), whose read end the loop watches like
// any reader; reading it runs the Loop-side handler of each signal received. One open Loop at a
// time handles a given signal, since the C handler has one wake fd per signal.
//
// The same pipe wakes the loop for native helper threads (names.ts: getaddrinfo): they write a 0
// byte, which no signal has, and the table calls the helper's wake callback for it.
import { constants as osConstants } from 'node:os';
import { checkCallback, errnoError, invalidArgType, invalidArgValue } from './errors.js';
import { native } from './native.js';
import type { ExceptionContext } from './exceptions.js';
import type { LoopCore } from './loop-core.js';

const EAGAIN = -osConstants.errno.EAGAIN;
const EINTR = -osConstants.errno.EINTR;
const SIGNALS = osConstants.signals as Readonly<Record<string, number>>;

/** Which loop watches each signal number: the native handler writes to one wake fd per signal. */
const signalOwners = new Map<number, LoopCore>();

/** What the signal table needs from its Loop. */
export interface SignalHost {
  /** Watches the wake pipe's read end without counting it as work that keeps the loop alive. */
  watchWakeFd(fd: number, onWake: () => void): void;
  /** Hands a handler's error to the loop's exception handler. */
  report(err: unknown, context: ExceptionContext): void;
  /** helperPending changed: an attached loop re-evaluates what keeps Node alive. */
  helperChanged(): void;
}

/** One Loop's signal handlers and its wake-up pipe. */
export class SignalTable {
  readonly #loop: LoopCore;
  readonly #host: SignalHost;
  readonly #handlers = new Map<number, () => void>();
  readonly #buffer = new Uint8Array(64);
  #wakeRead = -1;
  #wakeWrite = -1;
  /** The native helpers' client (byte 0), if one asked for the pipe. */
  #helper: { onWake: () => void; onClose: () => void } | null = null;
  #helperPending = 0;

  constructor(loop: LoopCore, host: SignalHost) {
    this.#loop = loop;
    this.#host = host;
  }

  /** The wake pipe's read end (-1 before the first handler). */
  get wakeFd(): number {
    return this.#wakeRead;
  }

  /** True for either end of the wake pipe: user code may not watch or remove them. */
  owns(fd: number): boolean {
    return fd >= 0 && (fd === this.#wakeRead || fd === this.#wakeWrite);
  }

  /** Loop.addSignalHandler() after the loop's own checks. */
  add(sig: unknown, cb: unknown): void {
    const signo = signalNumber(sig);
    checkCallback(cb);
    const owner = signalOwners.get(signo);
    if (owner !== undefined && owner !== this.#loop) {
      throw invalidArgValue('sig', 'a signal no other open Loop handles (remove it there first)', sig);
    }
    if (owner === undefined) {
      this.#openWakePipe();
      const rc = native.signalWatch(signo, this.#wakeWrite);
      if (rc < 0) throw errnoError(rc, 'sigaction');
      signalOwners.set(signo, this.#loop);
    }
    this.#handlers.set(signo, cb);
  }

  /** Loop.removeSignalHandler() after the loop's own checks. */
  remove(sig: unknown): boolean {
    const signo = signalNumber(sig);
    if (!this.#handlers.delete(signo)) return false;
    signalOwners.delete(signo);
    const rc = native.signalUnwatch(signo);
    if (rc < 0) throw errnoError(rc, 'sigaction');
    return true;
  }

  /**
   * The wake pipe's write end for native helper threads, which write a 0 byte when they have a
   * result: `onWake` then runs in the loop. `onClose` runs before the pipe closes, so the client
   * can stop its threads from writing to a closed (and maybe reused) fd number.
   */
  helperWakeFd(onWake: () => void, onClose: () => void): number {
    this.#openWakePipe();
    this.#helper = { onWake, onClose };
    return this.#wakeWrite;
  }

  /**
   * Results native helpers still owe: while there are any, the loop has work to wait for (the
   * wake pipe's reader alone does not keep it alive).
   */
  get helperPending(): number {
    return this.#helperPending;
  }

  /** A native helper took on (+1) or finished or dropped (-1) a piece of work. */
  holdHelper(delta: 1 | -1): void {
    this.#helperPending += delta;
    this.#host.helperChanged();
  }

  /** Restores every disposition it replaced and closes the wake pipe. */
  close(): void {
    const helper = this.#helper;
    this.#helper = null;
    helper?.onClose();
    for (const signo of this.#handlers.keys()) {
      native.signalUnwatch(signo);
      signalOwners.delete(signo);
    }
    this.#handlers.clear();
    if (this.#wakeRead >= 0) {
      native.close(this.#wakeRead);
      native.close(this.#wakeWrite);
      this.#wakeRead = this.#wakeWrite = -1;
    }
  }

  #openWakePipe(): void {
    if (this.#wakeRead >= 0) return;
    const fds = native.pipe();
    if (typeof fds === 'number') throw errnoError(fds, 'pipe2');
    const [r, w] = fds;
    try {
      this.#host.watchWakeFd(r, this.#onWake);
    } catch (err) {
      native.close(r);
      native.close(w);
      throw err;
    }
    this.#wakeRead = r;
    this.#wakeWrite = w;
  }

  #runHelper(): void {
    const helper = this.#helper;
    if (helper === null) return;
    try {
      helper.onWake();
    } catch (err) {
      this.#host.report(err, { message: 'Exception while collecting a native helper result', callback: helper.onWake });
    }
  }

  /** The wake pipe's reader: one byte per signal received; runs the handler of each. */
  readonly #onWake = (): void => {
    const buf = this.#buffer;
    for (;;) {
      const n = native.read(this.#wakeRead, buf, 0, buf.length);
      if (n === EINTR) continue;
      // EAGAIN: drained. (EOF cannot happen, the loop holds the write end; other errors neither.)
      if (n === EAGAIN || n <= 0) return;
      for (let i = 0; i < n; i++) {
        const signo = buf[i]!; // read() filled n bytes
        if (signo === 0) {
          this.#runHelper();
          continue;
        }
        const cb = this.#handlers.get(signo);
        if (cb === undefined) continue; // removed since the signal arrived
        try {
          cb();
        } catch (err) {
          const signal = signalName(signo);
          this.#host.report(err, { message: `Exception in signal handler for ${signal}`, callback: cb, signal });
        }
      }
      if (n < buf.length) return;
    }
  };
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
