// Handles for scheduled callbacks, and the FIFO the loop keeps them in until they run.
// A Handle is what callSoon()/callLater() return; cancelling it is the only public operation.
// Fields with a leading underscore are the loop's: they are plain properties (not #private)
// so that the timer heap and the loop read them without an accessor on the hot path.

import { inspect, type InspectOptionsStylized } from 'node:util';
import { describeObject } from './inspect.js';

/** Counts a loop keeps about its timers; a cancelled timer updates them itself (lazy removal). */
export interface TimerBook {
  /** Timers in the heap that are neither cancelled nor run: they keep the loop alive. */
  pending: number;
  /** Cancelled timers still in the heap, waiting to be dropped. */
  cancelledInHeap: number;
  /** Called after a timer was cancelled, so an attached loop re-evaluates what keeps Node alive. */
  onCancel?: () => void;
}

/** A callback scheduled with `loop.callSoon()` or `loop.callLater()`. */
export class Handle {
  /** @internal The callback; null once it ran or was cancelled. */
  _callback: (() => void) | null;
  /** @internal Deadline in loop.time() milliseconds; -1 for callSoon handles. */
  _when: number;
  /** @internal Scheduling order: breaks ties between equal deadlines. */
  _seq: number;
  /** @internal The loop's timer counts, while this handle is a timer waiting in the heap. */
  _book: TimerBook | null = null;
  /** @internal */
  _cancelled = false;

  /** @internal Made by the loop only. */
  constructor(callback: () => void, when: number, seq: number) {
    this._callback = callback;
    this._when = when;
    this._seq = seq;
  }

  /** True once cancel() was called (even if the callback had already run). */
  get cancelled(): boolean {
    return this._cancelled;
  }

  /**
   * Keeps the callback from running, if it has not run yet. Calling it again does nothing.
   * A cancelled timer stays in the loop's heap until it reaches the top, but no longer keeps
   * the loop alive.
   */
  cancel(): void {
    if (this._cancelled) return;
    this._cancelled = true;
    this._callback = null;
    const book = this._book;
    if (book !== null) {
      this._book = null;
      book.pending--;
      book.cancelledInHeap++;
      book.onCancel?.();
    }
  }

  /** `Handle { callback: [Function: tick], when: 1520.3, cancelled: false }` (when: timers only). */
  [inspect.custom](depth: number, options: InspectOptionsStylized): string {
    const fields: Record<string, unknown> = { callback: this._callback };
    if (this._when >= 0) fields.when = this._when;
    fields.cancelled = this._cancelled;
    return describeObject('Handle', fields, depth, options);
  }
}

/**
 * A growable ring buffer of handles, first in, first out.
 *
 * Invariant: the queued handles are `#items[(#head + k) & (#items.length - 1)]` for
 * `0 <= k < #size`; `#items.length` is a power of two; every other slot is undefined (so a run
 * handle is not kept alive by the buffer). push and shift allocate nothing until the buffer is
 * full, when it doubles.
 */
export class HandleQueue {
  #items: Array<Handle | undefined>;
  #head = 0;
  #size = 0;

  constructor(capacity = 64) {
    let cap = 1;
    while (cap < capacity) cap *= 2;
    this.#items = Array.from<Handle | undefined>({ length: cap });
  }

  get size(): number {
    return this.#size;
  }

  push(handle: Handle): void {
    const items = this.#items;
    if (this.#size === items.length) {
      this.#grow();
      this.push(handle);
      return;
    }
    items[(this.#head + this.#size) & (items.length - 1)] = handle;
    this.#size++;
  }

  /** Removes and returns the oldest handle; undefined when empty. */
  shift(): Handle | undefined {
    if (this.#size === 0) return undefined;
    const items = this.#items;
    const handle = items[this.#head];
    items[this.#head] = undefined;
    this.#head = (this.#head + 1) & (items.length - 1);
    this.#size--;
    return handle;
  }

  clear(): void {
    this.#items.fill(undefined);
    this.#head = 0;
    this.#size = 0;
  }

  #grow(): void {
    const old = this.#items;
    const next = Array.from<Handle | undefined>({ length: old.length * 2 });
    for (let k = 0; k < this.#size; k++) next[k] = old[(this.#head + k) & (old.length - 1)];
    this.#items = next;
    this.#head = 0;
  }
}
