// Timers (issue #3 item 1, STYLE principle 7): callLater() runs on a binary heap ordered by
// deadline with ties broken by sequence; a timer never fires before its delay (the selector rounds
// waits up to whole ms); cancelled timers never run and do not keep the loop alive; delays are
// validated. Run on every backend, since the wait before a timer is the selector's.
import { afterEach, describe, expect, test } from 'vitest';
import { Handle } from '../../src/handle.js';
import { TimerHeap } from '../../src/timer-heap.js';
import { expectError } from '../helpers/fds.js';
import { backends, openLoop, timedRun } from './helpers.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

describe('TimerHeap', () => {
  const entry = (when: number, seq: number) => ({ _when: when, _seq: seq });

  test('pops entries by deadline, ties by sequence, for random input', () => {
    const heap = new TimerHeap<{ _when: number; _seq: number }>();
    const all = Array.from({ length: 2000 }, (_, seq) => entry(Math.floor(Math.random() * 50), seq));
    for (const e of all) heap.push(e);
    const popped = [];
    while (heap.size > 0) popped.push(heap.pop()!);
    const sorted = [...all].sort((a, b) => a._when - b._when || a._seq - b._seq);
    expect(popped).toEqual(sorted);
    expect(heap.pop()).toBeUndefined();
  });

  test('interleaved pushes and pops keep the order', () => {
    const heap = new TimerHeap<{ _when: number; _seq: number }>();
    let seq = 0;
    let last = -Infinity;
    for (let round = 0; round < 500; round++) {
      const floor = last === -Infinity ? 0 : last;
      for (let k = 0; k < 3; k++) heap.push(entry(floor + Math.random() * 10, seq++));
      const top = heap.pop()!;
      expect(top._when).toBeGreaterThanOrEqual(last);
      last = top._when;
    }
  });

  test('filter() drops entries and keeps the heap ordered', () => {
    const heap = new TimerHeap<{ _when: number; _seq: number }>();
    for (let i = 0; i < 1000; i++) heap.push(entry((i * 7919) % 1000, i));
    heap.filter((e) => e._when % 3 !== 0);
    const popped = [];
    while (heap.size > 0) popped.push(heap.pop()!._when);
    expect(popped.every((w) => w % 3 !== 0)).toBe(true);
    expect(popped).toEqual([...popped].sort((a, b) => a - b));
    expect(popped.length).toBe(666);
  });
});

describe.each(backends)('%s loop: timers', (backend) => {
  test('timers fire in deadline order, not in the order they were made', async () => {
    const loop = openLoop(backend);
    const fired: number[] = [];
    // Each deadline lies between two readings of the loop's clock taken around its callLater().
    const made = [30, 10, 20, 0, 5].map((ms) => {
      const earliest = loop.time() + ms;
      loop.callLater(ms, () => fired.push(ms));
      return { ms, earliest, latest: loop.time() + ms };
    });
    await loop.run();
    expect([...fired].sort((a, b) => a - b)).toEqual([0, 5, 10, 20, 30]);
    // Usually that is also the firing order. But a process descheduled between two callLater()
    // calls (a loaded machine) moves the later timer's deadline: "5" made 6 ms after "10" is due
    // after it. So every pair whose deadlines are surely ordered must fire in that order.
    for (const a of made) {
      for (const b of made) {
        if (a.latest < b.earliest)
          expect(fired.indexOf(a.ms), `${a.ms} is due before ${b.ms}`).toBeLessThan(fired.indexOf(b.ms));
      }
    }
  });

  test('timers with the same delay fire in the order they were made', async () => {
    const loop = openLoop(backend);
    const fired: number[] = [];
    for (let i = 0; i < 50; i++) loop.callLater(3, () => fired.push(i));
    await loop.run();
    expect(fired).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  test('1000 timers with random delays fire in (deadline, sequence) order, each exactly once', async () => {
    const loop = openLoop(backend);
    const handles: Handle[] = [];
    const fired: Handle[] = [];
    for (let i = 0; i < 1000; i++) {
      const h: Handle = loop.callLater(Math.floor(Math.random() * 40), () => fired.push(h));
      handles.push(h);
    }
    await loop.run();
    expect(fired.length).toBe(1000);
    expect(new Set(fired).size).toBe(1000);
    const byDeadline = [...handles].sort((a, b) => a._when - b._when || a._seq - b._seq);
    expect(fired).toEqual(byDeadline);
  });

  test.each([0.3, 1, 2.5, 10, 25.7])('a %s ms timer never fires before its delay', async (ms) => {
    const loop = openLoop(backend);
    const gaps: number[] = [];
    const schedule = (left: number) => {
      const made = loop.time();
      loop.callLater(ms, () => {
        gaps.push(loop.time() - made);
        if (left > 1) schedule(left - 1);
      });
    };
    schedule(5);
    await loop.run();
    expect(gaps.length).toBe(5);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(ms);
    expect(Math.max(...gaps)).toBeLessThan(ms + 500);
  });

  test('zero and negative delays run in the next iteration', async () => {
    const loop = openLoop(backend);
    const fired: string[] = [];
    loop.callLater(0, () => fired.push('zero'));
    loop.callLater(-100, () => fired.push('negative'));
    loop.callLater(-Infinity, () => fired.push('-Infinity'));
    const ms = await timedRun(loop);
    expect(fired).toEqual(['zero', 'negative', '-Infinity']);
    expect(loop.selector.selects).toBe(1);
    expect(ms).toBeLessThan(500);
  });

  test('a timer made by a due timer waits for a later iteration, even with delay 0', async () => {
    const loop = openLoop(backend);
    const at: Record<string, number> = {};
    loop.callLater(0, () => {
      at.first = loop.selector.selects;
      loop.callLater(0, () => void (at.second = loop.selector.selects));
      loop.callLater(-5, () => void (at.third = loop.selector.selects));
    });
    await loop.run();
    expect(at.first).toBe(1);
    expect(at.second).toBeGreaterThan(1);
    expect(at.third).toBe(at.second);
  });

  test('a cancelled timer does not fire and does not keep run() alive', async () => {
    const loop = openLoop(backend);
    let fired = false;
    const h = loop.callLater(60_000, () => void (fired = true));
    expect(h.cancelled).toBe(false);
    h.cancel();
    h.cancel(); // idempotent
    expect(h.cancelled).toBe(true);
    const ms = await timedRun(loop);
    expect(fired).toBe(false);
    expect(ms).toBeLessThan(500);
  });

  test('cancelling a timer that is due in the same iteration keeps it from running', async () => {
    const loop = openLoop(backend);
    const fired: string[] = [];
    let b: Handle | undefined;
    loop.callLater(1, () => {
      fired.push('a');
      b!.cancel();
    });
    b = loop.callLater(1, () => fired.push('b'));
    loop.callLater(1, () => fired.push('c'));
    // Wait until all three are due so they run in one iteration.
    const start = performance.now();
    while (performance.now() - start < 3) {
      /* spin */
    }
    await loop.run();
    expect(fired).toEqual(['a', 'c']);
    expect(loop.selector.selects).toBe(1);
  });

  test('cancelling after the timer ran changes nothing', async () => {
    const loop = openLoop(backend);
    let runs = 0;
    const h = loop.callLater(0, () => {
      runs++;
    });
    await loop.run();
    h.cancel();
    expect(h.cancelled).toBe(true);
    loop.callLater(0, () => {
      runs++;
    });
    await loop.run();
    expect(runs).toBe(2);
  });

  test('20 000 cancelled timers are dropped; the live one still fires on time', async () => {
    const loop = openLoop(backend);
    const handles = Array.from({ length: 20_000 }, (_, i) =>
      loop.callLater(1000 + (i % 100), () => {
        throw new Error('a cancelled timer ran');
      }),
    );
    let made = 0;
    let ranAt = 0;
    loop.callLater(0, () => {
      made = loop.time();
      for (const h of handles) h.cancel();
      loop.callLater(20, () => void (ranAt = loop.time()));
    });
    await loop.run();
    expect(ranAt - made).toBeGreaterThanOrEqual(20);
  });

  test('callLater refuses a delay that is not a number, NaN, and a callback that is not a function', () => {
    const loop = openLoop(backend);
    const cb = () => {};
    expectError(() => loop.callLater('10' as unknown as number, cb), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => loop.callLater(undefined as unknown as number, cb), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => loop.callLater(NaN, cb), RangeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => loop.callLater(10, null as unknown as () => void), TypeError, 'ERR_INVALID_ARG_TYPE');
  });

  test('time() is monotonic milliseconds', () => {
    const loop = openLoop(backend);
    const before = performance.now();
    const a = loop.time();
    const b = loop.time();
    const after = performance.now();
    expect(b).toBeGreaterThanOrEqual(a);
    // performance.now()'s clock: bracketed by it, however long the process was descheduled.
    expect(a).toBeGreaterThanOrEqual(before);
    expect(b).toBeLessThanOrEqual(after);
  });
});
