// Microtask progress (DESIGN §3: "the loop never blocks while microtasks it caused are pending"):
// promise continuations and nextTicks caused by loop callbacks run before the loop next waits,
// however deep the await chain, and a busy loop does not starve them either.
//
// Each test keeps the loop alive with a long timer, so a loop that blocked too early would sit
// in select until that timer (or the test deadline) and the assertions on iterations would fail:
// the tests measure progress in iterations, not time.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { Loop } from '../../src/loop.js';
import { _drainMode, _setDrainMode } from '../../src/microtask-drain.js';
import { drain, pipe, writeBytes } from '../helpers/fds.js';
import type { BackendName } from '../../src/selectors.js';
import { backends, openLoop } from './helpers.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

/** Awaits `p` under `depth` nested async calls, each awaiting once more on the way back. */
async function deep<T>(depth: number, p: Promise<T>): Promise<T> {
  if (depth === 0) return await p;
  const v = await deep(depth - 1, p);
  await Promise.resolve();
  return v;
}

/** A promise for the next readability of fd, through a one-shot reader. */
function readable(loop: Loop, fd: number): Promise<void> {
  return new Promise((resolve) => {
    loop.addReader(fd, () => {
      loop.removeReader(fd);
      resolve();
    });
  });
}

// Every backend with the in-place drain, and the first with the setImmediate fallback as well.
const cases: Array<[BackendName, 'in-place' | 'immediate']> = [
  ...backends.map((b): [BackendName, 'in-place'] => [b, 'in-place']),
  [backends[0], 'immediate'],
];

describe.each(cases)('%s loop, %s drain: microtask progress', (backend, mode) => {
  beforeAll(() => _setDrainMode(mode === 'immediate' ? 'immediate' : 'unknown'));
  afterAll(() => _setDrainMode('unknown'));

  test('the loop uses the drain this suite is about', async () => {
    const loop = openLoop(backend);
    loop.callSoon(() => {});
    await loop.run();
    expect(_drainMode()).toBe(mode);
  });

  test('a deep await chain resumed by a reader callback adds a reader before the loop blocks', async () => {
    const loop = openLoop(backend);
    const [a, aw] = pipe();
    const [b, bw] = pipe();
    writeBytes(aw);
    writeBytes(bw);
    let timedOut = false;
    const keepAlive = loop.callLater(4000, () => void (timedOut = true));
    let gotB = 0;
    const chain = deep(200, readable(loop, a)).then(() => {
      // 200 levels and ~400 promise jobs later, the chain watches a pipe that is already readable.
      loop.addReader(b, () => {
        gotB = loop.selector.selects;
        drain(b);
        loop.removeReader(b);
        keepAlive.cancel();
      });
    });
    await loop.run();
    await chain;
    expect(timedOut).toBe(false);
    // Iteration 1 ran a's reader; the chain ran before iteration 2's select, which saw b.
    expect(gotB).toBe(2);
    drain(a);
  });

  test('a callSoon from a deep chain runs in the next iteration', async () => {
    const loop = openLoop(backend);
    let timedOut = false;
    const keepAlive = loop.callLater(4000, () => void (timedOut = true));
    let ranAt = 0;
    const start = new Promise<void>((resolve) => loop.callSoon(resolve));
    void deep(500, start).then(() => {
      loop.callSoon(() => {
        ranAt = loop.selector.selects;
        keepAlive.cancel();
      });
    });
    await loop.run();
    expect(timedOut).toBe(false);
    expect(ranAt).toBe(2);
  });

  test('nextTick callbacks (and the promise jobs they queue) run before the loop blocks', async () => {
    const loop = openLoop(backend);
    let timedOut = false;
    const keepAlive = loop.callLater(4000, () => void (timedOut = true));
    let ranAt = 0;
    loop.callSoon(() => {
      process.nextTick(() => {
        void Promise.resolve().then(() => {
          process.nextTick(() => {
            loop.callSoon(() => {
              ranAt = loop.selector.selects;
              keepAlive.cancel();
            });
          });
        });
      });
    });
    await loop.run();
    expect(timedOut).toBe(false);
    expect(ranAt).toBe(2);
  });

  test('an async function driven by loop events completes 500 round trips without stalling', async () => {
    const loop = openLoop(backend);
    const [r, w] = pipe();
    let timedOut = false;
    const keepAlive = loop.callLater(4000, () => void (timedOut = true));
    let rounds = 0;
    const pingPong = async () => {
      for (let i = 0; i < 500; i++) {
        loop.callLater(0, () => writeBytes(w));
        await readable(loop, r);
        drain(r);
        rounds++;
      }
      keepAlive.cancel();
    };
    const done = pingPong();
    await loop.run();
    await done;
    expect(timedOut).toBe(false);
    expect(rounds).toBe(500);
    // At most a few iterations per round: the coroutine never waited for a timeout.
    expect(loop.selector.selects).toBeLessThanOrEqual(500 * 3);
  });

  test('a loop kept busy by callSoon does not starve promise continuations', async () => {
    const loop = openLoop(backend);
    let spins = 0;
    let chainDoneAt = 0;
    const spin = () => {
      spins++;
      if (chainDoneAt === 0) loop.callSoon(spin);
    };
    loop.callSoon(spin);
    const start = new Promise<void>((resolve) => loop.callSoon(resolve));
    void deep(1000, start).then(() => void (chainDoneAt = loop.selector.selects));
    await loop.run();
    // The chain finished right after the iteration that started it, while the spinner spun.
    expect(chainDoneAt).toBe(1);
    expect(spins).toBeLessThanOrEqual(3);
  });

  test('stop() from a promise continuation ends run() before the loop blocks', async () => {
    const loop = openLoop(backend);
    let timedOut = false;
    loop.callLater(4000, () => void (timedOut = true));
    const start = new Promise<void>((resolve) => loop.callLater(1, resolve));
    void deep(50, start).then(() => loop.stop());
    await loop.run();
    expect(timedOut).toBe(false);
    expect(loop.selector.selects).toBeLessThanOrEqual(3);
  });

  test('work queued by the caller before run() is seen by the first iteration', async () => {
    const loop = openLoop(backend);
    let timedOut = false;
    const keepAlive = loop.callLater(4000, () => void (timedOut = true));
    let ranAt = 0;
    void deep(100, Promise.resolve()).then(() => {
      loop.callSoon(() => {
        ranAt = loop.selector.selects;
        keepAlive.cancel();
      });
    });
    await loop.run();
    expect(timedOut).toBe(false);
    expect(ranAt).toBe(1);
  });
});
