// Readiness (DESIGN §3 "Readiness mapping" and "More rules"): what each state of a pipe or socket
// reports, on every backend, including the one exception select(2) forces.
import { afterEach, describe, expect, test } from 'vitest';
import { availableBackends } from '../../src/selectors.js';
import {
  EVENT_READ,
  EVENT_WRITE,
  RW,
  closeFd,
  drain,
  expectNothingReady,
  expectReady,
  fill,
  openSelector,
  pairsOf,
  pipe,
  shutdownWrite,
  socketpair,
  tcpAccept,
  tcpConnect,
  tcpListener,
  writeBytes,
  type Pair,
} from '../helpers/fds.js';
import { native } from '../../src/native.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

/** A small seeded PRNG (mulberry32), so a failing random subset can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

describe.each(availableBackends())('%s selector', (backend) => {
  const open = () => openSelector(backend);

  test('§3 Readiness: readable data reports EVENT_READ, an empty pipe nothing', () => {
    const sel = open();
    const [r, w] = pipe();
    sel.register(r, EVENT_READ);
    expectNothingReady(sel);
    writeBytes(w, 'hello');
    expectReady(sel, 0, [[r, EVENT_READ]]);
  });

  test('§3 Readiness: EOF (the peer shut down its writing side) reports EVENT_READ', () => {
    const sel = open();
    const [a, b] = socketpair();
    sel.register(a, EVENT_READ);
    expectNothingReady(sel);
    shutdownWrite(b);
    expectReady(sel, 0, [[a, EVENT_READ]]);
    expect(drain(a)).toBe(0); // it really is EOF, not data
    expectReady(sel, 0, [[a, EVENT_READ]]);
  });

  test('§3 Readiness: a pending connection reports EVENT_READ on the listener; a connected socket is writable', () => {
    const sel = open();
    const [listener, port] = tcpListener();
    sel.register(listener, EVENT_READ);
    expectNothingReady(sel);
    const client = tcpConnect(port);
    sel.register(client, EVENT_WRITE);
    // Loopback connects complete at once, but allow the kernel a moment.
    expectReady(sel, 1000, [
      [listener, EVENT_READ],
      [client, EVENT_WRITE],
    ]);
    expect(tcpAccept(listener)).not.toBeNull();
    expectReady(sel, 0, [[client, EVENT_WRITE]]);
  });

  test('§3 Readiness: a full pipe is not writable until the reader drains it', () => {
    const sel = open();
    const [r, w] = pipe();
    sel.register(w, EVENT_WRITE);
    expectReady(sel, 0, [[w, EVENT_WRITE]]);
    expect(fill(w)).toBeGreaterThan(0);
    expectNothingReady(sel);
    expectNothingReady(sel, 20); // and stays so for a while
    drain(r);
    expectReady(sel, 0, [[w, EVENT_WRITE]]);
  });

  test('§3 Readiness: a full socket is not writable until the peer drains it', () => {
    const sel = open();
    const [a, b] = socketpair();
    sel.register(a, EVENT_WRITE);
    fill(a);
    expectNothingReady(sel);
    drain(b);
    expectReady(sel, 0, [[a, EVENT_WRITE]]);
  });

  test.each<[string, number]>([
    ['READ', EVENT_READ],
    ['WRITE', EVENT_WRITE],
    ['READ|WRITE', RW],
  ])('§3 Readiness: a socketpair peer going away (hang-up) reports what was asked: %s', (_, asked) => {
    const sel = open();
    const [a, b] = socketpair();
    sel.register(a, asked);
    if (asked === EVENT_READ) expectNothingReady(sel);
    closeFd(b);
    expectReady(sel, 0, [[a, asked]]);
  });

  test('§3 Readiness: a pipe whose writer went away reports READ, and WRITE too if asked (select: READ only, the documented exception)', () => {
    const sel = open();
    const [r1, w1] = pipe();
    const [r2, w2] = pipe();
    sel.register(r1, EVENT_READ);
    sel.register(r2, RW); // a read end is never writable: only the hang-up can report WRITE
    expectNothingReady(sel);
    closeFd(w1);
    closeFd(w2);
    // select(2) has no hang-up bit: a hang-up lands in the read set only.
    const hangUp = backend === 'select' ? EVENT_READ : RW;
    expectReady(sel, 0, [
      [r1, EVENT_READ],
      [r2, hangUp],
    ]);
  });

  test('§3 Readiness: a pipe whose reader went away is an error: WRITE, and READ if asked, even when full', () => {
    const sel = open();
    const [r, w] = pipe();
    sel.register(w, RW);
    fill(w);
    expectNothingReady(sel);
    closeFd(r);
    expectReady(sel, 0, [[w, RW]]);
  });

  test('§3 Readiness: only the bits that were asked for are reported', () => {
    const sel = open();
    const [a, b] = socketpair();
    const [c, d] = socketpair();
    writeBytes(b);
    writeBytes(d);
    // a and c are both readable and writable.
    sel.register(a, EVENT_READ);
    sel.register(c, EVENT_WRITE);
    expectReady(sel, 0, [
      [a, EVENT_READ],
      [c, EVENT_WRITE],
    ]);
  });

  test('§3 Rules: at most one entry per fd, READ and WRITE merged into one mask', () => {
    const sel = open();
    const [a, b] = socketpair();
    sel.register(a, RW);
    expectReady(sel, 0, [[a, EVENT_WRITE]]);
    writeBytes(b);
    const results = sel.select(0);
    expect(results).toHaveLength(1);
    expect(pairsOf(sel, results)).toEqual([[a, RW]]);
  });

  test('§2 Level-triggered: readiness repeats on every select until drained', () => {
    const sel = open();
    const [r, w] = pipe();
    sel.register(r, EVENT_READ);
    writeBytes(w, 'abcdef');
    for (let i = 0; i < 3; i++) expectReady(sel, 0, [[r, EVENT_READ]]);
    const buf = Buffer.alloc(2);
    expect(native.read(r, buf, 0, 2)).toBe(2); // a partial read leaves it readable
    expectReady(sel, 0, [[r, EVENT_READ]]);
    expectReady(sel, null, [[r, EVENT_READ]]);
    drain(r);
    expectNothingReady(sel);
    expectNothingReady(sel, 10);
  });

  test.each([1, 2, 3])('§3 Readiness: exactly the ready fds out of 200 pipes are reported (seed %i)', (seed) => {
    const sel = open();
    const random = prng(seed);
    const pipes = Array.from({ length: 200 }, () => pipe());
    for (const [r] of pipes) sel.register(r, EVENT_READ);
    expectNothingReady(sel);
    for (let round = 0; round < 3; round++) {
      const expected: Pair[] = [];
      for (const [r, w] of pipes) {
        if (random() < 0.3) {
          writeBytes(w);
          expected.push([r, EVENT_READ]);
        }
      }
      expect(expected.length).toBeGreaterThan(0);
      expectReady(sel, 0, expected);
      expectReady(sel, 1000, expected);
      for (const [r] of expected) drain(r);
      expectNothingReady(sel);
    }
  });

  test('§3 Readiness: many fds with mixed interests each report exactly their asked, ready bits', () => {
    const sel = open();
    const expected: Pair[] = [];
    for (let i = 0; i < 60; i++) {
      const [a, b] = socketpair();
      const asked = [EVENT_READ, EVENT_WRITE, RW][i % 3];
      const hasData = i % 2 === 0;
      if (hasData) writeBytes(b);
      sel.register(a, asked);
      const ready = (hasData ? EVENT_READ : 0) | EVENT_WRITE;
      if (ready & asked) expected.push([a, ready & asked]);
    }
    expectReady(sel, 0, expected);
  });
});
