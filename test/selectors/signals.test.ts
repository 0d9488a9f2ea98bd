// Signals (DESIGN §2 "EINTR is retried inside wait with the remaining timeout recomputed",
// STYLE principle 7 "A signal never shortens a wait"): a signal that arrives while the thread is
// blocked in select() neither raises nor cuts the wait short, on every backend.
//
// A child process sends SIGUSR2 to this process while it is blocked; a listener keeps Node from
// dying of it. After each signal the child writes a byte to a "proof" pipe the selector does not
// watch, so a byte found after select() returns proves the signal was sent during the wait.
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, test } from 'vitest';
import { availableBackends } from '../../src/selectors.js';
import { EVENT_READ, drain, openSelector, pairsOf, pipe, shell, timed, watchdog } from '../helpers/fds.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

const signallers: ChildProcess[] = [];

/** shell() for a child that sends signals: withSigusr2 waits for it before it lets go. */
function signaller(script: string, ...fds: number[]): ChildProcess {
  const child = shell(script, ...fds);
  signallers.push(child);
  return child;
}

/**
 * Installs a SIGUSR2 listener for the duration of fn, and counts the signals Node saw. The
 * listener stays until every signalling child has exited: on a loaded machine a child's last
 * signal can come after fn is done, and with no listener SIGUSR2 kills the process.
 */
async function withSigusr2(fn: (received: () => number) => Promise<void> | void): Promise<void> {
  let count = 0;
  const onSignal = () => {
    count++;
  };
  process.on('SIGUSR2', onSignal);
  try {
    await fn(() => count);
  } finally {
    for (const child of signallers.splice(0)) {
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
    }
    process.off('SIGUSR2', onSignal);
  }
}

/** Resolves once cond() holds; fails after ms. Node runs signal listeners once the thread is free. */
async function eventually(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe.each(availableBackends())('%s selector', (backend) => {
  test('§7 a signal arriving mid-wait neither raises nor shortens select(300)', async () => {
    await withSigusr2(async (received) => {
      using _guard = watchdog(10_000);
      const sel = openSelector(backend);
      const [r] = pipe();
      const [proofR, proofW] = pipe();
      sel.register(r, EVENT_READ);
      signaller(`sleep 0.05; kill -s USR2 ${process.pid}; printf x >&3`, proofW);
      const [results, ms] = timed(() => sel.select(300));
      expect(results).toEqual([]);
      expect(ms).toBeGreaterThanOrEqual(299);
      expect(ms).toBeLessThan(300 + 500);
      expect(drain(proofR), 'the signal was sent while select() waited').toBe(1);
      await eventually(() => received() === 1, 2000);
    });
  });

  test('§7 a burst of signals mid-wait does not lengthen select(1000): each retry waits only what is left', async () => {
    await withSigusr2(async (received) => {
      using _guard = watchdog(10_000);
      const sel = openSelector(backend);
      const [proofR, proofW] = pipe();
      // Empty selector: nothing can end the wait but the clock. A signal every ~50 ms until the
      // wait is over: a fixed burst of four could drift past the wait on a loaded machine.
      const kill = `kill -s USR2 ${process.pid}; printf x >&3`;
      // The wait is long enough for two signals even when the child is starved for CPU.
      const child = signaller(`while :; do sleep 0.05; ${kill}; done`, proofW);
      const [results, ms] = timed(() => sel.select(1000));
      process.kill(-child.pid!, 'SIGKILL');
      expect(results).toEqual([]);
      expect(ms).toBeGreaterThanOrEqual(999);
      // Restarting the full wait after each signal would never end while they keep coming (the
      // watchdog would end the run), so the bound can be generous: a loaded machine overran a
      // 1000 ms wait by 418 ms (that measurement included a spawn).
      expect(ms).toBeLessThan(1000 + 1000);
      expect(drain(proofR), 'signals were sent during the wait').toBeGreaterThanOrEqual(2);
      // Signals may coalesce while pending, so Node may see fewer than were sent.
      await eventually(() => received() >= 1, 2000);
    });
  });

  test('§7 a signal mid-wait does not end a wait without timeout; readiness does', async () => {
    await withSigusr2(async (received) => {
      using _guard = watchdog(10_000);
      const sel = openSelector(backend);
      const [r, w] = pipe();
      const [proofR, proofW] = pipe();
      sel.register(r, EVENT_READ);
      const [results, ms] = timed(() => {
        // Timed from before the spawn: the child's clock starts inside spawn().
        signaller(`sleep 0.05; kill -s USR2 ${process.pid}; printf x >&3; sleep 0.15; printf x >&4`, proofW, w);
        return sel.select(null);
      });
      expect(pairsOf(sel, results)).toEqual([[r, EVENT_READ]]);
      expect(ms).toBeGreaterThanOrEqual(199);
      expect(drain(proofR)).toBe(1);
      await eventually(() => received() === 1, 2000);
    });
  });
});
