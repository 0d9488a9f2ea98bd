// Timeouts (DESIGN §3 "Timeouts are milliseconds" and "More rules", STYLE principle 7): <= 0 polls,
// a positive timeout waits at least that long and rounds up, null/undefined/Infinity wait for
// readiness, huge values saturate instead of wrapping, NaN and non-numbers are refused.
//
// Machines are noisy: lower bounds are tight (timeout - 1 ms), upper bounds generous (+500 ms).
// A wait that a bug would make endless runs under a watchdog that kills the run instead.
import { afterEach, describe, expect, test } from 'vitest';
import { availableBackends } from '../../src/selectors.js';
import {
  EVENT_READ,
  EVENT_WRITE,
  RW,
  expectError,
  openSelector,
  pairsOf,
  pipe,
  socketpair,
  timed,
  watchdog,
  writeBytes,
  writeLater,
} from '../helpers/fds.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

const SLACK_MS = 500;

describe.each(availableBackends())('%s selector', (backend) => {
  const open = () => openSelector(backend);

  /** A selector with one registered, not-ready pipe read end: [selector, read fd, write fd]. */
  function idle() {
    const sel = open();
    const [r, w] = pipe();
    sel.register(r, EVENT_READ);
    return [sel, r, w] as const;
  }

  test.each([0, -0, -1, -0.5, -1000, -Infinity])('§3 Timeouts: %s polls and returns at once', (timeout) => {
    using _guard = watchdog(10_000);
    const [sel] = idle();
    const empty = open();
    for (const s of [sel, empty]) {
      const [results, ms] = timed(() => s.select(timeout));
      expect(results).toEqual([]);
      expect(ms).toBeLessThan(SLACK_MS); // a blocking bug waits forever (watchdog) or |-1000| = 1 s
    }
  });

  test('§3 Timeouts: a poll (timeout 0) still reports what is ready', () => {
    const [sel, r, w] = idle();
    writeBytes(w);
    expect(pairsOf(sel, sel.select(0))).toEqual([[r, EVENT_READ]]);
    expect(pairsOf(sel, sel.select(-1))).toEqual([[r, EVENT_READ]]);
  });

  test.each([30, 120])('§3 Timeouts: a positive timeout (%i ms) waits about that long', (timeout) => {
    using _guard = watchdog(10_000);
    const [sel] = idle();
    const [results, ms] = timed(() => sel.select(timeout));
    expect(results).toEqual([]);
    expect(ms).toBeGreaterThanOrEqual(timeout - 1);
    expect(ms).toBeLessThan(timeout + SLACK_MS);
  });

  test('§3 Timeouts: an empty selector still sleeps for its timeout', () => {
    using _guard = watchdog(10_000);
    const sel = open();
    const [results, ms] = timed(() => sel.select(60));
    expect(results).toEqual([]);
    expect(ms).toBeGreaterThanOrEqual(59);
    expect(ms).toBeLessThan(60 + SLACK_MS);
  });

  test.each<[number, number]>([
    [0.3, 1],
    [0.001, 1],
    [1.2, 2],
  ])('§7 Timeouts round up: %s ms waits at least %i ms (never a busy 0-ms return)', (timeout, atLeast) => {
    using _guard = watchdog(10_000);
    const [sel] = idle();
    const empty = open();
    for (let i = 0; i < 4; i++) {
      for (const s of [sel, empty]) {
        const [results, ms] = timed(() => s.select(timeout));
        expect(results).toEqual([]);
        // Rounded to 0 this returns in microseconds; rounded to nearest, 1.2 ms waits ~1 ms.
        expect(ms).toBeGreaterThanOrEqual(atLeast - 0.05);
        expect(ms).toBeLessThan(atLeast + SLACK_MS);
      }
    }
  });

  test.each<[string, number | null | undefined]>([
    ['null', null],
    ['undefined', undefined],
    ['Infinity', Infinity],
  ])('§3 Timeouts: %s waits until an fd is ready (made ready 100 ms later by a child process)', (_, timeout) => {
    using _guard = watchdog(10_000);
    const [sel, r, w] = idle();
    // Timed from before the child starts: its sleep runs from then, however late select() begins.
    const [results, ms] = timed(() => {
      writeLater(w, 100);
      return sel.select(timeout);
    });
    expect(pairsOf(sel, results)).toEqual([[r, EVENT_READ]]);
    expect(ms).toBeGreaterThanOrEqual(99);
    expect(ms).toBeLessThan(100 + 5000);
  });

  test('§3 Timeouts: select() with no argument waits until an fd is ready', () => {
    using _guard = watchdog(10_000);
    const [sel, r, w] = idle();
    // Timed from before the child starts: its sleep runs from then, however late select() begins.
    const [results, ms] = timed(() => {
      writeLater(w, 80);
      return sel.select();
    });
    expect(pairsOf(sel, results)).toEqual([[r, EVENT_READ]]);
    expect(ms).toBeGreaterThanOrEqual(79);
  });

  test.each([2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER, 1e300, Infinity])(
    '§3 Timeouts: a huge timeout (%s) is accepted and returns at once when an fd is ready',
    (timeout) => {
      using _guard = watchdog(10_000);
      const sel = open();
      const [a] = socketpair();
      sel.register(a, RW);
      const [results, ms] = timed(() => sel.select(timeout));
      expect(pairsOf(sel, results)).toEqual([[a, EVENT_WRITE]]);
      expect(ms).toBeLessThan(SLACK_MS); // waiting out the timeout would trip the watchdog
    },
  );

  test.each([2 ** 31, 2 ** 32 + 1, 2 ** 32 + 50, Number.MAX_SAFE_INTEGER])(
    '§3 Timeouts: a huge timeout (%s) saturates: it waits for readiness instead of wrapping to a short wait',
    (timeout) => {
      using _guard = watchdog(10_000);
      const [sel, r, w] = idle();
      // Timed from before the child starts: its sleep runs from then, however late select() begins.
      const [results, ms] = timed(() => {
        writeLater(w, 120);
        return sel.select(timeout);
      });
      // Readiness, not a timeout, ended the wait (a wrapped timeout finds nothing ready), and not
      // before the byte was written.
      expect(pairsOf(sel, results)).toEqual([[r, EVENT_READ]]);
      expect(ms).toBeGreaterThanOrEqual(119);
    },
  );

  test('§3 Timeouts: NaN is refused with RangeError ERR_INVALID_ARG_VALUE', () => {
    const [sel] = idle();
    expectError(() => sel.select(NaN), RangeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => sel.selectRaw(NaN), RangeError, 'ERR_INVALID_ARG_VALUE');
  });

  test.each<[string, unknown]>([
    ['string', '5'],
    ['empty string', ''],
    ['boolean', true],
    ['object', {}],
    ['bigint', 5n],
  ])('§3 Timeouts: a %s timeout is refused with TypeError ERR_INVALID_ARG_TYPE', (_, timeout) => {
    const [sel] = idle();
    expectError(() => sel.select(timeout as number), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => sel.selectRaw(timeout as number), TypeError, 'ERR_INVALID_ARG_TYPE');
  });
});
