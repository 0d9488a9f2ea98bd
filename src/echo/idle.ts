// --idle-timeout: one periodic sweep over the connections instead of a timer per connection (or
// worse, per message). The per-message cost is one boolean store (`touched = true`); the clock is
// read only by the sweep.
//
// A connection last active at t is closed by the first sweep at or after t + idle + one period at
// most (the sweep that first sees it untouched stamps `quietSince`), so it lives between idle and
// idle + 2 periods of silence. The period is idle/8, clamped to [10 ms, 1 s].
import type { Loop } from '../loop.js';

type Handle = ReturnType<Loop['callLater']>;

export interface Idleable {
  /** Set on every read or write; cleared by the sweep. */
  touched: boolean;
  /** When the sweep first found it untouched (loop.time()). */
  quietSince: number;
  /** Closes a connection that has been silent too long. */
  closeIdle(): void;
}

const MIN_PERIOD_MS = 10;
const MAX_PERIOD_MS = 1000;

export class IdleSweeper {
  readonly #loop: Loop;
  readonly #idleMs: number;
  readonly #periodMs: number;
  readonly #conns: Iterable<Idleable>;
  #timer: Handle | null = null;

  constructor(loop: Loop, idleMs: number, conns: Iterable<Idleable>) {
    this.#loop = loop;
    this.#idleMs = idleMs;
    this.#periodMs = Math.min(MAX_PERIOD_MS, Math.max(MIN_PERIOD_MS, Math.ceil(idleMs / 8)));
    this.#conns = conns;
  }

  start(): void {
    if (this.#timer === null && this.#idleMs > 0) this.#timer = this.#loop.callLater(this.#periodMs, this.#sweep);
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = null;
  }

  #sweep = (): void => {
    const now = this.#loop.time();
    // Closing may delete from the set being iterated; a Set's iterator allows that.
    for (const c of this.#conns) {
      if (c.touched) {
        c.touched = false;
        c.quietSince = now;
      } else if (now - c.quietSince >= this.#idleMs) {
        c.closeIdle();
      }
    }
    this.#timer = this.#loop.callLater(this.#periodMs, this.#sweep);
  };
}
