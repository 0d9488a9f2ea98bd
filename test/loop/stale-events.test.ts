// No stale events (DESIGN §3 "A stale event is never delivered"): when a callback closes fd N
// and a new fd N is opened and watched in the same iteration, the new owner does not receive the
// readiness the old fd had in this iteration's batch; a reader removed during the batch is not
// called for the rest of it. Real pipes: close() then pipe() hands out the lowest free number,
// so the new pipe reuses N.
import { afterEach, describe, expect, test } from 'vitest';
import { closeFd, drain, pipe, socketpair, writeBytes } from '../helpers/fds.js';
import { backends, openLoop } from './helpers.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

/**
 * Makes a pipe (or socketpair) whose first fd is `n`, a number just closed. Lower free numbers
 * would be handed out first: the pairs that fill them stay open (cleanup() closes them).
 */
function pairWithFirstFd(make: () => [number, number], n: number): [number, number] {
  for (let tries = 0; tries < 32; tries++) {
    const [a, b] = make();
    if (a === n) return [a, b];
    if (b === n) closeFd(b); // a filled a lower hole; n is free again
  }
  throw new Error(`could not reopen fd ${n}`);
}

describe.each(backends)('%s loop: stale events', (backend) => {
  test('a reader on a reused fd number does not get the old fd readiness from the same batch', async () => {
    const loop = openLoop(backend);
    const [a, aw] = pipe();
    const [b, bw] = pipe();
    writeBytes(aw);
    writeBytes(bw);
    let swap: { fd: number; at: number } | undefined;
    const newOwnerCalls: number[] = [];

    // Whichever reader runs first closes the other's fd and reopens its number: the other's
    // readiness is then still ahead in the batch.
    const firstOf = (self: number, other: number) => () => {
      drain(self);
      loop.removeReader(self);
      if (swap !== undefined) return;
      expect(loop.removeReader(other)).toBe(true);
      closeFd(other);
      const [r, w] = pairWithFirstFd(pipe, other);
      expect(r).toBe(other);
      swap = { fd: other, at: loop.selector.selects };
      loop.addReader(r, () => {
        newOwnerCalls.push(loop.selector.selects);
        drain(r);
        loop.removeReader(r);
      });
      // Real readiness for the new owner, later: it must arrive.
      loop.callLater(10, () => writeBytes(w));
    };
    loop.addReader(a, firstOf(a, b));
    loop.addReader(b, firstOf(b, a));
    await loop.run();

    expect(swap).toBeDefined();
    expect(swap!.at).toBe(1);
    expect(newOwnerCalls).toHaveLength(1);
    expect(newOwnerCalls[0]).toBeGreaterThan(swap!.at);
  });

  test('a writer on a reused fd number waits for a select made after it was added', async () => {
    const loop = openLoop(backend);
    const [a] = socketpair();
    const [b] = socketpair();
    let swap: { fd: number; at: number } | undefined;
    const newOwnerCalls: number[] = [];
    const firstOf = (self: number, other: number) => () => {
      loop.removeWriter(self);
      if (swap !== undefined) return;
      loop.removeWriter(other);
      closeFd(other);
      const [s] = pairWithFirstFd(socketpair, other);
      expect(s).toBe(other);
      swap = { fd: other, at: loop.selector.selects };
      // A fresh socket is writable at once, but only a later select may say so.
      loop.addWriter(s, () => {
        newOwnerCalls.push(loop.selector.selects);
        loop.removeWriter(s);
      });
    };
    loop.addWriter(a, firstOf(a, b));
    loop.addWriter(b, firstOf(b, a));
    await loop.run();
    expect(swap!.at).toBe(1);
    expect(newOwnerCalls).toEqual([2]);
  });

  test('a reader removed during the batch is not called for the rest of it', async () => {
    const loop = openLoop(backend);
    const [a, aw] = pipe();
    const [b, bw] = pipe();
    writeBytes(aw);
    writeBytes(bw);
    const calls: number[] = [];
    const firstOf = (self: number, other: number) => () => {
      calls.push(self);
      drain(self);
      loop.removeReader(self);
      loop.removeReader(other);
    };
    loop.addReader(a, firstOf(a, b));
    loop.addReader(b, firstOf(b, a));
    await loop.run();
    expect(calls).toHaveLength(1);
    expect(loop.selector.selects).toBe(1);
  });

  test('a reader re-added to the same open fd during the batch gets its readiness from the next select', async () => {
    const loop = openLoop(backend);
    const [a, aw] = pipe();
    const [b, bw] = pipe();
    writeBytes(aw);
    writeBytes(bw);
    const calls: Array<[string, number]> = [];
    let done = false;
    const firstOf = (self: number, other: number) => () => {
      calls.push(['first', loop.selector.selects]);
      drain(self);
      loop.removeReader(self);
      if (done) return;
      done = true;
      loop.removeReader(other);
      loop.addReader(other, () => {
        calls.push(['re-added', loop.selector.selects]);
        drain(other);
        loop.removeReader(other);
      });
    };
    loop.addReader(a, firstOf(a, b));
    loop.addReader(b, firstOf(b, a));
    await loop.run();
    expect(calls).toEqual([
      ['first', 1],
      ['re-added', 2],
    ]);
  });
});
