// A registered fd closed behind the selector's back (DESIGN §3 "More rules"): select() never
// throws or hangs; select and poll report the key with its asked bits, epoll drops it as the
// kernel does; unregister then succeeds and the number can be registered again.
import { afterEach, describe, expect, test } from 'vitest';
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
  timed,
  watchdog,
  writeBytes,
  type Pair,
} from '../helpers/fds.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

/** select and poll keep the number and report it; epoll (and kqueue) forget the closed file. */
const reportsClosed = (backend: string) => backend === 'select' || backend === 'poll';

describe.each(availableBackends())('%s selector', (backend) => {
  const open = () => openSelector(backend);
  const whenClosed = (fd: number, asked: number): Pair[] => (reportsClosed(backend) ? [[fd, asked]] : []);

  test.each<[string, number]>([
    ['READ', EVENT_READ],
    ['WRITE', EVENT_WRITE],
    ['READ|WRITE', RW],
  ])(
    '§3 Rules: a closed registered fd (asked %s) never makes select() throw; select/poll report the asked bits, epoll drops it',
    (_, asked) => {
      const sel = open();
      const [r] = pipe();
      sel.register(r, asked);
      closeFd(r);
      expectReady(sel, 0, whenClosed(r, asked));
      expectReady(sel, 0, whenClosed(r, asked)); // and again: nothing was consumed
    },
  );

  test('§3 Rules: a closed registered fd never makes a blocking select() hang', () => {
    const sel = open();
    const [r] = pipe();
    sel.register(r, EVENT_READ);
    closeFd(r);
    using _guard = watchdog(10_000);
    if (reportsClosed(backend)) {
      // Ready at once, even with no timeout.
      const [results, ms] = timed(() => sel.select(null));
      expect(results.map(([k, m]) => [k.fd, m])).toEqual([[r, EVENT_READ]]);
      expect(ms).toBeLessThan(500);
    } else {
      // Dropped: a timed wait runs its course and reports nothing.
      const [results, ms] = timed(() => sel.select(50));
      expect(results).toEqual([]);
      expect(ms).toBeGreaterThanOrEqual(49);
    }
  });

  test('§3 Rules: other ready fds are still reported beside a closed registered fd', () => {
    const sel = open();
    const [r1] = pipe();
    const [r2, w2] = pipe();
    const [a] = socketpair();
    sel.register(r1, EVENT_READ);
    sel.register(r2, EVENT_READ);
    sel.register(a, EVENT_WRITE);
    writeBytes(w2);
    closeFd(r1);
    expectReady(sel, 0, [...whenClosed(r1, EVENT_READ), [r2, EVENT_READ], [a, EVENT_WRITE]]);
  });

  test('§3 Rules: unregister after the close succeeds, and a new fd with the same number registers and works', () => {
    const sel = open();
    const [r, w] = pipe();
    const old = sel.register(r, EVENT_READ, 'old');
    closeFd(r);
    closeFd(w);
    expect(sel.unregister(r)).toBe(old);
    expectNothingReady(sel);
    const [r2, w2] = pipe();
    expect(r2).toBe(r); // the kernel hands out the lowest free number
    const key = sel.register(r2, EVENT_READ, 'new');
    expect(key.data).toBe('new');
    expectNothingReady(sel);
    writeBytes(w2);
    expectReady(sel, 0, [[r2, EVENT_READ]]);
  });

  test('§3 Rules: unregister succeeds even when the number was already reused by a new fd', () => {
    const sel = open();
    const [r, w] = pipe();
    sel.register(r, EVENT_READ);
    closeFd(r);
    closeFd(w);
    const [r2, w2] = pipe();
    expect(r2).toBe(r);
    sel.unregister(r);
    expect(sel.getMap().size).toBe(0);
    sel.register(r2, EVENT_READ);
    expectNothingReady(sel);
    writeBytes(w2);
    expectReady(sel, 0, [[r2, EVENT_READ]]);
    sel.unregister(r2);
    expectNothingReady(sel);
  });
});
