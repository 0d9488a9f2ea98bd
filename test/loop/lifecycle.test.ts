// Running, stopping and closing (DESIGN §3 "Loop"): run() keeps going while there are readers,
// writers, live timers or queued callbacks, or until stop(), and can run again afterwards;
// runUntilComplete() returns or throws the promise's outcome, and rejects instead of hanging when
// nothing could settle it; after close() every method but close() throws ERR_LOOP_CLOSED.
import { afterEach, describe, expect, test } from 'vitest';
import { Loop } from '../../src/loop.js';
import { createSelector, type BackendName } from '../../src/selectors.js';
import { drain, expectError, pipe, writeBytes } from '../helpers/fds.js';
import { backends, codeOf, openLoop, timedRun } from './helpers.js';
import { cleanup, openFdCount } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

describe.each(backends)('%s loop: lifecycle', (backend) => {
  test('run() returns at once when nothing is registered', async () => {
    const loop = openLoop(backend);
    const ms = await timedRun(loop);
    expect(ms).toBeLessThan(500);
    expect(loop.selector.selects).toBe(0);
    expect(loop.isRunning()).toBe(false);
  });

  test('run() returns once the last reader and writer are removed', async () => {
    const loop = openLoop(backend);
    const [r, w] = pipe();
    writeBytes(w);
    loop.addWriter(w, () => {
      loop.removeWriter(w);
    });
    loop.addReader(r, () => {
      drain(r);
      loop.removeReader(r);
    });
    await loop.run();
    expect(loop.selector.getMap().size).toBe(0);
  });

  test('isRunning() is true inside callbacks and false after run() returns', async () => {
    const loop = openLoop(backend);
    let inside = false;
    loop.callSoon(() => void (inside = loop.isRunning()));
    const done = loop.run();
    expect(loop.isRunning()).toBe(true);
    await done;
    expect(inside).toBe(true);
    expect(loop.isRunning()).toBe(false);
  });

  test('stop() ends run() after the current iteration, and run() can go on later', async () => {
    const loop = openLoop(backend);
    const [r, w] = pipe();
    writeBytes(w);
    let calls = 0;
    let finish = false;
    loop.addReader(r, () => {
      calls++;
      if (finish) {
        drain(r);
        loop.removeReader(r);
      } else if (calls === 3) {
        loop.stop();
      }
    });
    await loop.run();
    expect(calls).toBe(3);
    expect(loop.selector.selects).toBe(3);
    finish = true;
    await loop.run();
    expect(calls).toBe(4);
    expect(loop.selector.selects).toBe(4);
  });

  test('stop() in one callback lets the rest of the iteration run', async () => {
    const loop = openLoop(backend);
    const ran: string[] = [];
    loop.callSoon(() => {
      ran.push('a');
      loop.stop();
    });
    loop.callSoon(() => ran.push('b'));
    loop.callLater(0, () => ran.push('timer'));
    loop.callLater(60_000, () => ran.push('late'));
    await loop.run();
    expect(ran).toEqual(['a', 'b', 'timer']);
  });

  test('stop() when not running does nothing', async () => {
    const loop = openLoop(backend);
    loop.stop();
    const ran: number[] = [];
    loop.callSoon(() => loop.callSoon(() => ran.push(2)));
    await loop.run();
    expect(ran).toEqual([2]);
  });

  test('run() while running rejects with ERR_LOOP_RUNNING', async () => {
    const loop = openLoop(backend);
    let nested: Promise<unknown> | undefined;
    loop.callSoon(() => void (nested = loop.run().catch((err: unknown) => err)));
    const first = loop.run();
    await expect(loop.run()).rejects.toMatchObject({ code: 'ERR_LOOP_RUNNING' });
    await expect(loop.runUntilComplete(Promise.resolve(1))).rejects.toMatchObject({ code: 'ERR_LOOP_RUNNING' });
    await first;
    expect(codeOf(await nested)).toBe('ERR_LOOP_RUNNING');
  });

  test('close() while running throws ERR_LOOP_RUNNING', async () => {
    const loop = openLoop(backend);
    let code: string | undefined;
    loop.callSoon(() => {
      try {
        loop.close();
      } catch (err) {
        code = codeOf(err);
      }
    });
    await loop.run();
    expect(code).toBe('ERR_LOOP_RUNNING');
    expect(loop.closed).toBe(false);
  });

  test('after close() every method but close() throws ERR_LOOP_CLOSED', async () => {
    const loop = openLoop(backend);
    const [r] = pipe();
    loop.addReader(r, () => {});
    loop.close();
    loop.close(); // idempotent
    expect(loop.closed).toBe(true);
    expect(loop.selector.closed).toBe(true);
    const cb = () => {};
    const calls: Array<() => unknown> = [
      () => loop.addReader(r, cb),
      () => loop.removeReader(r),
      () => loop.addWriter(r, cb),
      () => loop.removeWriter(r),
      () => loop.callSoon(cb),
      () => loop.callLater(1, cb),
      () => loop.time(),
      () => loop.stop(),
      () => loop.addSignalHandler('SIGUSR2', cb),
      () => loop.removeSignalHandler('SIGUSR2'),
      () => loop.setExceptionHandler(cb),
    ];
    for (const call of calls) expectError(call, Error, 'ERR_LOOP_CLOSED');
    await expect(loop.run()).rejects.toMatchObject({ code: 'ERR_LOOP_CLOSED' });
    await expect(loop.runUntilComplete(Promise.resolve(1))).rejects.toMatchObject({ code: 'ERR_LOOP_CLOSED' });
  });

  test('close() drops queued callbacks and timers and closes what the loop opened', async () => {
    const before = openFdCount();
    const loop = new Loop({ backend });
    loop.addSignalHandler('SIGUSR2', () => {});
    loop.callSoon(() => {});
    loop.callLater(10, () => {});
    expect(openFdCount()).toBeGreaterThan(before);
    loop.close();
    expect(openFdCount()).toBe(before);
  });

  test('runUntilComplete() returns the value of a promise a loop callback resolves', async () => {
    const loop = openLoop(backend);
    const [r, w] = pipe();
    const p = new Promise<string>((resolve) => {
      loop.addReader(r, () => {
        drain(r);
        resolve('got it');
      });
    });
    loop.callLater(5, () => writeBytes(w));
    await expect(loop.runUntilComplete(p)).resolves.toBe('got it');
    // The reader is still registered: the loop stopped because the promise settled.
    expect(loop.removeReader(r)).toBe(true);
  });

  test('runUntilComplete() runs an async function that awaits loop events to its end', async () => {
    const loop = openLoop(backend);
    const main = async () => {
      let total = 0;
      for (let i = 0; i < 10; i++) {
        await sleep(1, loop);
        total += i;
      }
      return total;
    };
    await expect(loop.runUntilComplete(main())).resolves.toBe(45);
  });

  test('runUntilComplete() throws the rejection', async () => {
    const loop = openLoop(backend);
    const p = new Promise<void>((_, reject) => loop.callLater(1, () => reject(new Error('boom'))));
    await expect(loop.runUntilComplete(p)).rejects.toThrow('boom');
  });

  test('runUntilComplete() of a settled promise returns without running queued callbacks', async () => {
    const loop = openLoop(backend);
    let ran = false;
    loop.callSoon(() => void (ran = true));
    await expect(loop.runUntilComplete(Promise.resolve(7))).resolves.toBe(7);
    expect(ran).toBe(false);
    await loop.run();
    expect(ran).toBe(true);
  });

  test('runUntilComplete() rejects with ERR_LOOP_STALLED when nothing could settle the promise', async () => {
    const loop = openLoop(backend);
    loop.callLater(1, () => {});
    const never = new Promise<void>(() => {});
    const err = await loop.runUntilComplete(never).catch((e: unknown) => e);
    expect(codeOf(err)).toBe('ERR_LOOP_STALLED');
    expect(String(err)).toMatch(/nothing left to wait for/);
  });

  test('runUntilComplete() rejects with ERR_LOOP_STOPPED when stop() comes first', async () => {
    const loop = openLoop(backend);
    const never = new Promise<void>(() => {});
    loop.callLater(1, () => loop.stop());
    loop.callLater(60_000, () => {});
    await expect(loop.runUntilComplete(never)).rejects.toMatchObject({ code: 'ERR_LOOP_STOPPED' });
  });

  test('a promise settled after runUntilComplete() gave up does not stop a later run()', async () => {
    const loop = openLoop(backend);
    let resolveLater!: () => void;
    const p = new Promise<void>((resolve) => (resolveLater = resolve));
    await expect(loop.runUntilComplete(p)).rejects.toMatchObject({ code: 'ERR_LOOP_STALLED' });
    let ticks = 0;
    loop.callSoon(() => resolveLater());
    const tick = () => {
      if (++ticks < 5) loop.callSoon(tick);
    };
    loop.callSoon(tick);
    await loop.run();
    expect(ticks).toBe(5);
  });

  test('a failing select rejects run() and leaves the loop closable', async () => {
    const loop = openLoop(backend);
    loop.callLater(1, () => {});
    loop.selector.close();
    await expect(loop.run()).rejects.toMatchObject({ code: 'ERR_SELECTOR_CLOSED' });
    expect(loop.isRunning()).toBe(false);
    loop.close();
  });
});

describe('Loop constructor', () => {
  test('uses a given selector, or creates one by backend name', () => {
    const sel = createSelector(backends[0]);
    const loop = new Loop({ selector: sel });
    expect(loop.selector).toBe(sel);
    loop.close();
    expect(sel.closed).toBe(true);
    for (const backend of backends) {
      const l = new Loop({ backend });
      expect(l.selector.backend).toBe(backend);
      l.close();
    }
    const def = new Loop();
    expect(backends).toContain(def.selector.backend);
    def.close();
  });

  test('refuses bad options', () => {
    expectError(() => new Loop({ backend: 'nope' as BackendName }), RangeError, 'ERR_INVALID_ARG_VALUE');
    const sel = createSelector();
    expectError(() => new Loop({ backend: 'poll', selector: sel }), TypeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => new Loop({ selector: {} as never }), TypeError, 'ERR_INVALID_ARG_TYPE');
    sel.close();
    expectError(() => new Loop({ selector: sel }), RangeError, 'ERR_INVALID_ARG_VALUE');
  });
});
