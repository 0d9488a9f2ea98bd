// Readers and writers (DESIGN §3 "Loop", issue #3 item 1): a reader and a writer on one fd share
// one selector registration, which is modified rather than re-registered; adding a reader again
// replaces its callback; removing an unknown one returns false; bad fds and callbacks are refused
// with codes, and a refused add leaves nothing behind. Readiness is level-triggered.
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, test } from 'vitest';
import { native } from '../../src/native.js';
import { EVENT_READ, EVENT_WRITE } from '../../src/selectors.js';
import { drain, expectError, fill, pipe, socketpair, unusedFd, writeBytes, writeLater } from '../helpers/fds.js';
import { backends, openLoop, timedRun } from './helpers.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

describe.each(backends)('%s loop: readers and writers', (backend) => {
  test('a reader and a writer on one fd share one registration, modified in place', () => {
    const loop = openLoop(backend);
    const [a] = socketpair();
    const sel = loop.selector;
    loop.addReader(a, () => {});
    expect(sel.getKey(a).events).toBe(EVENT_READ);
    loop.addWriter(a, () => {});
    expect(sel.getKey(a).events).toBe(EVENT_READ | EVENT_WRITE);
    expect(sel.getMap().size).toBe(1);
    expect(loop.removeReader(a)).toBe(true);
    expect(sel.getKey(a).events).toBe(EVENT_WRITE);
    loop.addReader(a, () => {});
    expect(sel.getKey(a).events).toBe(EVENT_READ | EVENT_WRITE);
    expect(loop.removeWriter(a)).toBe(true);
    expect(sel.getKey(a).events).toBe(EVENT_READ);
    expect(loop.removeReader(a)).toBe(true);
    expect(sel.getMap().has(a)).toBe(false);
  });

  test('a reader and a writer on one ready fd both run in the same iteration', async () => {
    const loop = openLoop(backend);
    const [a, b] = socketpair();
    writeBytes(b);
    const ran: Array<[string, number]> = [];
    loop.addReader(a, () => {
      ran.push(['read', loop.selector.selects]);
      drain(a);
      loop.removeReader(a);
    });
    loop.addWriter(a, () => {
      ran.push(['write', loop.selector.selects]);
      loop.removeWriter(a);
    });
    await loop.run();
    expect(ran).toEqual([
      ['read', 1],
      ['write', 1],
    ]);
  });

  test('addReader on an fd that has a reader replaces the callback', async () => {
    const loop = openLoop(backend);
    const [r, w] = pipe();
    writeBytes(w);
    const ran: string[] = [];
    loop.addReader(r, () => ran.push('old'));
    loop.addReader(r, () => {
      ran.push('new');
      drain(r);
      loop.removeReader(r);
    });
    expect(loop.selector.getKey(r).events).toBe(EVENT_READ);
    await loop.run();
    expect(ran).toEqual(['new']);
    // Replacing counted once: removing the reader let run() return.
    expect(loop.removeReader(r)).toBe(false);
  });

  test('removeReader and removeWriter return false for fds without one', () => {
    const loop = openLoop(backend);
    const [r, w] = pipe();
    expect(loop.removeReader(r)).toBe(false);
    expect(loop.removeWriter(w)).toBe(false);
    expect(loop.removeReader(100_000)).toBe(false);
    loop.addReader(r, () => {});
    expect(loop.removeWriter(r)).toBe(false);
    expect(loop.removeReader(r)).toBe(true);
    expect(loop.removeReader(r)).toBe(false);
  });

  test('an object with fileno() works like its fd', async () => {
    const loop = openLoop(backend);
    const [r, w] = pipe();
    const file = { fileno: () => r };
    writeBytes(w);
    let ran = 0;
    loop.addReader(file, () => {
      ran++;
      drain(r);
      loop.removeReader(file);
    });
    expect(loop.selector.getKey(r).events).toBe(EVENT_READ);
    await loop.run();
    expect(ran).toBe(1);
  });

  test('bad fds and callbacks are refused with codes, and leave nothing registered', async () => {
    const loop = openLoop(backend);
    const cb = () => {};
    const [r] = pipe();
    expectError(() => loop.addReader(-1, cb), RangeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => loop.addReader(1.5, cb), RangeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => loop.addWriter('3' as unknown as number, cb), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => loop.addReader(r, undefined as unknown as () => void), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => loop.removeReader(-1), RangeError, 'ERR_INVALID_ARG_VALUE');
    const closed = unusedFd();
    const err = expectError(() => loop.addReader(closed, cb), Error, 'EBADF');
    expect(err.errno).toBeLessThan(0);
    expect(loop.selector.getMap().size).toBe(0);
    expect(loop.removeReader(closed)).toBe(false);
    expect(await timedRun(loop)).toBeLessThan(500);
  });

  test('an fd registered on the selector directly is refused', () => {
    const loop = openLoop(backend);
    const [r] = pipe();
    loop.selector.register(r, EVENT_READ);
    expectError(() => loop.addReader(r, () => {}), Error, 'ERR_FD_ALREADY_REGISTERED');
    expect(loop.removeReader(r)).toBe(false);
  });

  test('a reader runs every iteration until its fd is drained (level-triggered)', async () => {
    const loop = openLoop(backend);
    const [r, w] = pipe();
    writeBytes(w, 'abc');
    const buf = Buffer.alloc(1);
    const got: string[] = [];
    loop.addReader(r, () => {
      const n = native.read(r, buf, 0, 1);
      if (n === 1) got.push(buf.toString('latin1', 0, 1));
      if (got.length === 3) loop.removeReader(r);
    });
    await loop.run();
    expect(got).toEqual(['a', 'b', 'c']);
    expect(loop.selector.selects).toBe(3);
  });

  test('a writer waits until its fd becomes writable', async () => {
    const loop = openLoop(backend);
    const [r, w] = pipe();
    fill(w);
    const at: Array<[string, number]> = [];
    loop.addWriter(w, () => {
      at.push(['writer', loop.selector.selects]);
      loop.removeWriter(w);
    });
    loop.callLater(10, () => {
      at.push(['drained', loop.selector.selects]);
      drain(r);
    });
    await loop.run();
    expect(at[0][0]).toBe('drained');
    expect(at[1][0]).toBe('writer');
    expect(at[1][1]).toBeGreaterThan(at[0][1]);
  });

  test('readiness from another process wakes a loop blocked in select', async () => {
    const loop = openLoop(backend);
    const [r, w] = pipe();
    let read = 0;
    loop.addReader(r, () => {
      read += drain(r);
      loop.removeReader(r);
    });
    // Timed from before the child starts: its sleep runs from then, however late run() begins.
    const t0 = performance.now();
    writeLater(w, 50);
    await loop.run();
    const ms = performance.now() - t0;
    expect(read).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(49);
    // One wait that readiness ended (a spurious early return would show as more selects).
    expect(loop.selector.selects).toBe(1);
  });

  test('100 pipes: every ready reader runs once per iteration', async () => {
    const loop = openLoop(backend);
    const pipes = Array.from({ length: 100 }, () => pipe());
    const counts = new Map<number, number>();
    for (const [r, w] of pipes) {
      writeBytes(w);
      loop.addReader(r, () => {
        counts.set(r, (counts.get(r) ?? 0) + 1);
        drain(r);
        loop.removeReader(r);
      });
    }
    await loop.run();
    expect(counts.size).toBe(100);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(loop.selector.selects).toBe(1);
  });
});
