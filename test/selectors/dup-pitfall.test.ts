// epoll's dup pitfall (DESIGN §6.1, epoll(7) Q6): an fd closed while a dup keeps its file open
// stays in epoll's interest list under its old number, where EPOLL_CTL_DEL cannot reach it. Every
// backend must survive it: unregister() succeeds, nothing is reported for the fd any more (no
// spinning), and a new fd with the same number gets only the bits it asked for.
import { cleanup } from '../helpers/resources.js';
import { afterEach, describe, expect, test } from 'vitest';
import { errnoError } from '../../src/errors.js';
import { native } from '../../src/native.js';
import { availableBackends } from '../../src/selectors.js';
import {
  EVENT_READ,
  EVENT_WRITE,
  RW,
  closeFd,
  expectNothingReady,
  expectReady,
  openSelector,
  pipe,
  socketpair,
  writeBytes,
} from '../helpers/fds.js';

const dups = new Set<number>();
afterEach(async () => {
  for (const fd of dups) native.close(fd);
  dups.clear();
  await cleanup();
});

/** A dup of fd that keeps its open file alive until the test ends. */
function dup(fd: number): number {
  const d = native.dup(fd);
  if (d < 0) throw errnoError(d, 'fcntl');
  dups.add(d);
  return d;
}

/** A pipe whose read end has fd `n`, a number just freed (lower holes are filled and kept). */
function pipeWithReadFd(n: number): [number, number] {
  for (let tries = 0; tries < 32; tries++) {
    const [r, w] = pipe();
    if (r === n) return [r, w];
    if (w === n) closeFd(w);
  }
  throw new Error(`could not reopen fd ${n}`);
}

describe.each(availableBackends())('%s selector: a registered fd closed while a dup keeps it open', (backend) => {
  test('§6.1 unregister succeeds and the selector reports nothing more, so a loop would not spin', () => {
    const sel = openSelector(backend);
    const [a] = socketpair(); // always writable: a stale entry would be reported forever
    sel.register(a, RW);
    dup(a);
    closeFd(a);
    sel.unregister(a);
    expect(sel.selectRaw(0)).toBe(0);
    expect(sel.selectRaw(0)).toBe(0);
  });

  test('§6.1 a new fd with the same number gets only the bits it asked for', () => {
    const sel = openSelector(backend);
    const [a] = socketpair();
    sel.register(a, EVENT_WRITE);
    dup(a);
    closeFd(a);
    sel.unregister(a);
    const [r, w] = pipeWithReadFd(a);
    sel.register(r, EVENT_READ);
    expectNothingReady(sel); // not the old file's writability
    writeBytes(w);
    expectReady(sel, 0, [[r, EVENT_READ]]);
  });

  test('§6.1 other registrations keep working across the repair', () => {
    const sel = openSelector(backend);
    const [a] = socketpair();
    const [r, w] = pipe();
    const [b] = socketpair();
    sel.register(r, EVENT_READ);
    sel.register(a, EVENT_WRITE);
    sel.register(b, EVENT_WRITE);
    dup(a);
    closeFd(a);
    sel.unregister(a);
    expectReady(sel, 0, [[b, EVENT_WRITE]]);
    writeBytes(w);
    expectReady(sel, 0, [
      [r, EVENT_READ],
      [b, EVENT_WRITE],
    ]);
    sel.modify(b, EVENT_READ);
    expectReady(sel, 0, [[r, EVENT_READ]]);
    sel.unregister(r);
    sel.unregister(b);
    expect(sel.selectRaw(0)).toBe(0);
  });
});

describe.each(availableBackends())('%s selector: repairs that reuse freed numbers', (backend) => {
  // Found by `npm run fuzz` (seed 1): the rebuilt epoll instance took the lowest free number,
  // which was a registered fd closed behind the selector's back, and re-adding that number
  // gave EINVAL (an epoll instance cannot watch itself).
  test('§6.1 unregister of a reused number succeeds while another registered fd is closed', () => {
    const sel = openSelector(backend);
    const [a] = pipe();
    const [b] = pipe();
    const [c] = pipe();
    sel.register(a, EVENT_READ);
    sel.register(b, EVENT_READ);
    closeFd(b);
    closeFd(a);
    const d = dup(c); // takes a's number: a reused number is what unregister(a) meets
    expect(d).toBe(a);
    sel.unregister(a);
    sel.unregister(b);
    expect(sel.getMap().size).toBe(0);
    expect(sel.selectRaw(0)).toBe(0);
  });
});
