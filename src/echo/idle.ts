// --idle-timeout: one periodic sweep over the connections instead of a timer per connection (or
// worse, per message). The per-message cost is one boolean store (`touched = true`); the clock is
// read only by the sweep.
//
// Activity is our own reads and writes, and the peer taking bytes from the kernel's send queue:
// a client slowly reading a large echo keeps the server waiting for writability for seconds
// while its send queue, MiBs deep, drains. The sweep reads that queue's size (one ioctl) only
// for a connection it finds untouched, and counts a shrink as activity.
//
// A connection last active at t is closed by the first sweep at or after t + idle + one period at
// most (the sweep that first sees it untouched stamps `quietSince`), so it lives between idle and
// idle + 2 periods of silence. The period is idle/8, clamped to [10 ms, 1 s].
import type { Loop } from '../loop.js';
import type { Socket } from '../socket.js';

type Handle = ReturnType<Loop['callLater']>;

export interface Idleable {
  /** Set on every read or write; cleared by the sweep. */
  touched: boolean;
  /** When the sweep first found it untouched (loop.time()). */
  quietSince: number;
  /** Send-queue size at the sweep before (-1: not read yet). */
  sendQueue: number;
  /** The socket, whose send queue the sweep reads. */
  readonly sock: Socket;
  /** Closes a connection that has been silent too long. */
  closeIdle(): void;
}

/** Whether the peer took bytes from the send queue since the last look; records the new size. */
function peerTookBytes(c: Idleable): boolean {
  let now: number;
  try {
    now = c.sock.sendQueueSize();
  } catch {
    return false; // closed, or a platform without the call: our own I/O only
  }
  const before = c.sendQueue;
  c.sendQueue = now;
  return now < before;
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
      if (c.touched || peerTookBytes(c)) {
        c.touched = false;
        c.quietSince = now;
      } else if (now - c.quietSince >= this.#idleMs) {
        c.closeIdle();
      }
    }
    this.#timer = this.#loop.callLater(this.#periodMs, this.#sweep);
  };
}
