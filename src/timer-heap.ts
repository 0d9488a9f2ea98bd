// The loop's timers: a binary min-heap ordered by (deadline, sequence), as libuv's timer heap
// (src/timer.c, heap-inl.h): the earliest deadline first, and among equal deadlines the timer
// scheduled first (libuv's start_id), so ties fire in the order they were made.
//
// Invariant: for every 0 < i < #items.length, #items[i] is not less than its parent
// #items[(i - 1) >> 1]; so #items[0] is the least. push and pop are O(log n) and reuse the
// array (no allocation once it has grown). Cancelled timers are not removed here: the loop drops
// them when they reach the top, or compacts the heap with filter() when they pile up.

/** What the heap orders by (Handle's fields; internal, like the heap). */
export interface TimerEntry {
  /** @internal Deadline in loop.time() milliseconds. */
  _when: number;
  /** @internal Scheduling order, for ties. */
  _seq: number;
}

function less(a: TimerEntry, b: TimerEntry): boolean {
  return a._when < b._when || (a._when === b._when && a._seq < b._seq);
}

/** The min-heap of timer handles described at the top of this file. */
export class TimerHeap<T extends TimerEntry> {
  readonly #items: T[] = [];

  get size(): number {
    return this.#items.length;
  }

  /** The least entry, without removing it. */
  peek(): T | undefined {
    return this.#items[0];
  }

  push(entry: T): void {
    const items = this.#items;
    items.push(entry);
    this.#siftUp(items.length - 1);
  }

  /** Removes and returns the least entry. */
  pop(): T | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length > 0 && last !== undefined) {
      items[0] = last;
      this.#siftDown(0);
    }
    return top;
  }

  /** Keeps only the entries for which keep() holds, then restores the invariant in O(n). */
  filter(keep: (entry: T) => boolean): void {
    const items = this.#items;
    let n = 0;
    for (let i = 0; i < items.length; i++) {
      const entry = items[i]!;
      if (keep(entry)) items[n++] = entry;
    }
    items.length = n;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.#siftDown(i);
  }

  clear(): void {
    this.#items.length = 0;
  }

  #siftUp(i: number): void {
    // Every index below is < items.length (i is a filled slot, parents and children are checked
    // against n), so the non-null assertions hold; they cost nothing at run time.
    const items = this.#items;
    const entry = items[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = items[parent]!;
      if (!less(entry, above)) break;
      items[i] = above;
      i = parent;
    }
    items[i] = entry;
  }

  #siftDown(i: number): void {
    const items = this.#items;
    const n = items.length;
    const entry = items[i]!;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && less(items[child + 1]!, items[child]!)) child++;
      const below = items[child]!;
      if (!less(below, entry)) break;
      items[i] = below;
      i = child;
    }
    items[i] = entry;
  }
}
