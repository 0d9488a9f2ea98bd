// Scale (DESIGN §3 "More ready fds than one kernel batch holds are all reported within a few calls;
// none starves", §2 "select must refuse any fd >= FD_SETSIZE"): poll and epoll with thousands of
// fds, and select's hard limit.
import { afterEach, describe, expect, test } from 'vitest';
import { native } from '../../src/native.js';
import { availableBackends } from '../../src/selectors.js';
import {
  EVENT_READ,
  EVENT_WRITE,
  drain,
  expectError,
  expectNothingReady,
  expectReady,
  fdSoftLimit,
  openSelector,
  pairsOf,
  pipe,
  socketpair,
  writeBytes,
} from '../helpers/fds.js';
import { cleanup, openFdCount } from '../helpers/resources.js';

afterEach(cleanup);

const FD_SETSIZE = native.FD_SETSIZE;
/** The selectors' result buffer: (fd, mask) pairs one wait can report (src/selectors.ts). */
const BATCH = 1024;

/** Up to `want` socketpairs, fewer if the fd limit is low (keeping 256 fds spare). */
function manySocketpairs(want: number): Array<[number, number]> {
  const room = Math.floor((fdSoftLimit() - openFdCount() - 256) / 2);
  const count = Math.min(want, room);
  expect(count, 'the fd limit leaves room for more fds than one batch holds').toBeGreaterThan(BATCH);
  return Array.from({ length: count }, () => socketpair());
}

/** Opens pipes until one end is numbered >= FD_SETSIZE; returns every pipe opened, in order. */
function pipesPastSetsize(): Array<[number, number]> {
  const pipes: Array<[number, number]> = [];
  while (pipes.length === 0 || Math.max(...pipes[pipes.length - 1]) < FD_SETSIZE) {
    if (pipes.length > 2 * FD_SETSIZE) throw new Error('could not reach fd numbers past FD_SETSIZE');
    pipes.push(pipe());
  }
  return pipes;
}

/** Registers fd, an end of pipe [r, w], for READ|WRITE, makes it ready and returns the expected mask. */
function registerReadyEnd(sel: ReturnType<typeof openSelector>, [, w]: [number, number], fd: number): number {
  sel.register(fd, EVENT_READ | EVENT_WRITE);
  if (fd === w) return EVENT_WRITE; // an empty pipe's write end is writable, never readable
  writeBytes(w);
  return EVENT_READ; // a read end with data is readable, never writable
}

const scalable = availableBackends().filter((b) => b !== 'select');

describe.each(scalable)('%s selector at scale', (backend) => {
  test('§3 Rules: thousands of ready fds (more than one batch) are all reported within a few calls', () => {
    const sel = openSelector(backend);
    const pairs = manySocketpairs(3000);
    const all: number[] = [];
    for (const [a, b] of pairs) {
      sel.register(a, EVENT_READ);
      sel.register(b, EVENT_READ);
      writeBytes(a);
      writeBytes(b);
      all.push(a, b);
    }
    expect(sel.getMap().size).toBe(all.length);
    const calls = Math.ceil(all.length / BATCH);
    const seen = new Set<number>();
    for (let i = 0; i < calls; i++) {
      const got = pairsOf(sel, sel.select(0));
      expect(got.length).toBe(BATCH); // all fds stay ready, so every call fills the batch
      for (const [fd, mask] of got) {
        expect(mask).toBe(EVENT_READ);
        seen.add(fd);
      }
    }
    // Every fd was reported by the first ceil(N / batch) calls: the batches rotated, none starved.
    expect(seen.size).toBe(all.length);
  });

  test('§3 Rules: with more ready fds than a batch, every fd keeps being reported (none starves)', () => {
    const sel = openSelector(backend);
    const pairs = manySocketpairs(1300);
    const counts = new Map<number, number>();
    for (const [a, b] of pairs) {
      sel.register(a, EVENT_WRITE); // always writable: a busy fd that never stops being ready
      sel.register(b, EVENT_WRITE);
      counts.set(a, 0).set(b, 0);
    }
    const n = counts.size;
    const calls = 12;
    for (let i = 0; i < calls; i++) {
      for (const [fd] of pairsOf(sel, sel.select(0))) counts.set(fd, (counts.get(fd) ?? 0) + 1);
    }
    const fair = Math.floor((calls * BATCH) / n);
    expect(
      Math.min(...counts.values()),
      `each of ${n} fds reported about ${fair} times in ${calls} calls`,
    ).toBeGreaterThanOrEqual(fair - 1);
  });

  test('§3 Readiness: exactly the ready fds out of thousands are reported, across batches', () => {
    const sel = openSelector(backend);
    const pairs = manySocketpairs(2500);
    for (const [a] of pairs) sel.register(a, EVENT_READ);
    expectNothingReady(sel);
    const expected = new Set<number>();
    pairs.forEach(([a, b], i) => {
      if (i % 3 !== 1) return;
      writeBytes(b);
      expected.add(a);
    });
    const seen = new Set<number>();
    for (let i = 0; i < Math.ceil(expected.size / BATCH); i++) {
      for (const [fd] of pairsOf(sel, sel.select(0))) seen.add(fd);
    }
    expect(seen).toEqual(expected);
    for (const fd of expected) drain(fd);
    expectNothingReady(sel);
  });

  test('§2 an fd numbered past FD_SETSIZE registers and is reported (only select has that limit)', () => {
    const sel = openSelector(backend);
    const last = pipesPastSetsize().at(-1)!;
    const high = Math.max(...last);
    expect(high).toBeGreaterThanOrEqual(FD_SETSIZE);
    const mask = registerReadyEnd(sel, last, high);
    expectReady(sel, 0, [[high, mask]]);
  });
});

describe.runIf(availableBackends().includes('select'))('select selector: FD_SETSIZE', () => {
  test('§2 select refuses an fd >= FD_SETSIZE with RangeError ERR_FD_OUT_OF_RANGE, leaves no key, and still works', () => {
    const sel = openSelector('select');
    const [r, w] = socketpair(); // low numbers, opened first
    const high = pipesPastSetsize()
      .flat()
      .filter((fd) => fd >= FD_SETSIZE);
    expect(high.length).toBeGreaterThan(0);
    for (const fd of high) {
      const err = expectError(() => sel.register(fd, EVENT_READ), RangeError, 'ERR_FD_OUT_OF_RANGE');
      expect(err.message).toContain(String(fd));
      expect(sel.getMap().has(fd)).toBe(false);
      expectError(() => sel.getKey(fd), Error, 'ERR_FD_NOT_REGISTERED');
    }
    expectError(() => sel.register(2 ** 31 - 1, EVENT_READ), RangeError, 'ERR_FD_OUT_OF_RANGE');
    // Still works: a low fd registers and is reported, and the refused high ones never are.
    sel.register(r, EVENT_READ, 'low');
    for (const fd of high) native.write(fd, Buffer.from('x'), 0, 1); // make whichever can be ready, ready
    expectNothingReady(sel);
    writeBytes(w);
    expectReady(sel, 0, [[r, EVENT_READ]]);
    expectReady(sel, 50, [[r, EVENT_READ]]);
  });

  test('§2 select accepts fd FD_SETSIZE - 1, the highest it can watch', () => {
    const sel = openSelector('select');
    const top = FD_SETSIZE - 1;
    // Pipes take the lowest free numbers, so the one reaching past FD_SETSIZE is very likely ours.
    const holder = pipesPastSetsize().find((p) => p.includes(top));
    expect(holder, `fd ${top} was opened by this test`).toBeDefined();
    const mask = registerReadyEnd(sel, holder!, top);
    expectReady(sel, 0, [[top, mask]]);
  });
});
