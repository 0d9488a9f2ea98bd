// select and poll try a zero-timeout scan before a blocking one when the previous wait found
// something (native/sys.h wait_busy_first). That shortcut must be invisible: a busy selector that
// then goes idle still sleeps for its whole timeout and still wakes for readiness that comes
// during the sleep, and the result scan that stops early once every ready fd is seen must still
// see them all, wherever they sit and in whichever sets.
import { afterEach, describe, expect, test } from 'vitest';
import { availableBackends } from '../../src/selectors.js';
import {
  EVENT_READ,
  EVENT_WRITE,
  RW,
  drain,
  expectReady,
  openSelector,
  pipe,
  socketpair,
  timed,
  watchdog,
  writeBytes,
  writeLater,
} from '../helpers/fds.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

describe.each(availableBackends())('%s selector', (backend) => {
  test('a wait after a busy one still sleeps its whole timeout when nothing is ready', () => {
    using _guard = watchdog(10_000);
    const sel = openSelector(backend);
    const [r, w] = pipe();
    sel.register(r, EVENT_READ);
    for (let i = 0; i < 3; i++) {
      writeBytes(w);
      expectReady(sel, 1000, [[r, EVENT_READ]]);
      drain(r);
      const [results, ms] = timed(() => sel.select(80));
      expect(results).toEqual([]);
      expect(ms).toBeGreaterThanOrEqual(79);
      expect(ms).toBeLessThan(80 + 500);
    }
  });

  test('a wait after a busy one wakes for readiness that arrives while it sleeps', () => {
    using _guard = watchdog(10_000);
    const sel = openSelector(backend);
    const [r, w] = pipe();
    sel.register(r, EVENT_READ);
    writeBytes(w);
    expectReady(sel, 0, [[r, EVENT_READ]]);
    drain(r);
    // Timed from before the child starts: its sleep runs from then, however late select() begins.
    const [results, ms] = timed(() => {
      writeLater(w, 100);
      return sel.select(5000);
    });
    expect(results.map(([key, mask]) => [key.fd, mask])).toEqual([[r, EVENT_READ]]);
    expect(ms).toBeGreaterThanOrEqual(50);
    expect(ms).toBeLessThan(4000);
  });

  test('every ready fd is reported when some are in both sets and the ready ones are spread out', () => {
    const sel = openSelector(backend);
    // 24 socketpair ends: every third asks READ|WRITE (counted twice by select(2)), the rest READ;
    // every second one gets data. Writable ends asking WRITE are always ready.
    const ends: Array<{ fd: number; events: number; readable: boolean }> = [];
    for (let i = 0; i < 24; i++) {
      const [a, b] = socketpair();
      const events = i % 3 === 0 ? RW : EVENT_READ;
      const readable = i % 2 === 0;
      if (readable) writeBytes(b);
      sel.register(a, events);
      ends.push({ fd: a, events, readable });
    }
    const expected = ends
      .map(({ fd, events, readable }): [number, number] => [fd, (readable ? EVENT_READ : 0) | (events & EVENT_WRITE)])
      .filter(([, mask]) => mask !== 0);
    // Twice: the first wait is not busy yet, the second goes through the zero-timeout shortcut.
    expectReady(sel, 1000, expected);
    expectReady(sel, 1000, expected);
  });
});
