// Signals (issue #3 item 1): addSignalHandler() routes a signal through the loop's wake-up pipe,
// so a signal wakes a loop blocked in select and its handler runs as a loop callback;
// removeSignalHandler() and close() give the signal back to whoever had it (here Node's own
// process.on listener). Signal handlers alone do not keep run() alive. A child process sends the
// signals while this process is blocked in the selector.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { Loop, type ExceptionContext } from '../../src/loop.js';
import { expectError, signalLater } from '../helpers/fds.js';
import { backends, eventually, openLoop, timedRun } from './helpers.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

// A stray SIGUSR2 (one that arrives after a test gave it back) must not kill the test process.
const ignore = () => {};
beforeAll(() => void process.on('SIGUSR2', ignore));
afterAll(() => void process.off('SIGUSR2', ignore));

describe.each(backends)('%s loop: signals', (backend) => {
  test('a signal sent while the loop blocks wakes it and runs the handler (SIGUSR1)', async () => {
    const loop = openLoop(backend);
    let handled = 0;
    let timedOut = false;
    const keepAlive = loop.callLater(4000, () => void (timedOut = true));
    loop.addSignalHandler('SIGUSR1', () => {
      handled++;
      keepAlive.cancel();
      expect(loop.removeSignalHandler('SIGUSR1')).toBe(true);
    });
    const start = performance.now();
    signalLater(process.pid, 'USR1', 50);
    const ms = await timedRun(loop, start);
    expect(handled).toBe(1);
    expect(timedOut).toBe(false);
    expect(ms).toBeGreaterThanOrEqual(49);
    // One blocking wait, ended by the wake pipe (the handler ran in the iteration it woke).
    expect(loop.selector.selects).toBe(1);
  });

  test('while the loop handles SIGUSR2 Node does not see it; after removeSignalHandler Node does again', async () => {
    const loop = openLoop(backend);
    let node = 0;
    const onNode = () => {
      node++;
    };
    process.on('SIGUSR2', onNode);
    try {
      let handled = 0;
      const keepAlive = loop.callLater(4000, () => {});
      loop.addSignalHandler('SIGUSR2', () => {
        handled++;
        keepAlive.cancel();
      });
      signalLater(process.pid, 'USR2', 50);
      await loop.run();
      expect(handled).toBe(1);
      await sleep(50);
      expect(node).toBe(0);

      expect(loop.removeSignalHandler('SIGUSR2')).toBe(true);
      expect(loop.removeSignalHandler('SIGUSR2')).toBe(false);
      process.kill(process.pid, 'SIGUSR2');
      await eventually(() => node === 1);
      expect(handled).toBe(1);
    } finally {
      process.off('SIGUSR2', onNode);
    }
  });

  test('close() gives the signal back to Node too', async () => {
    const loop = openLoop(backend);
    let node = 0;
    const onNode = () => {
      node++;
    };
    process.on('SIGUSR2', onNode);
    try {
      loop.addSignalHandler('SIGUSR2', () => {});
      loop.close();
      process.kill(process.pid, 'SIGUSR2');
      await eventually(() => node === 1);
    } finally {
      process.off('SIGUSR2', onNode);
    }
  });

  test('a signal that arrives while the loop is not running is handled by the next run()', async () => {
    const loop = openLoop(backend);
    let handled = 0;
    loop.addSignalHandler('SIGUSR2', () => {
      handled++;
    });
    process.kill(process.pid, 'SIGUSR2');
    loop.callLater(0, () => {});
    await loop.run();
    expect(handled).toBe(1);
    expect(loop.selector.selects).toBe(1);
  });

  test('signal handlers alone do not keep run() alive', async () => {
    const loop = openLoop(backend);
    loop.addSignalHandler('SIGUSR2', () => {});
    expect(await timedRun(loop)).toBeLessThan(500);
    expect(loop.selector.selects).toBe(0);
  });

  test('adding a handler again replaces it', async () => {
    const loop = openLoop(backend);
    const ran: string[] = [];
    loop.addSignalHandler('SIGUSR2', () => ran.push('old'));
    loop.addSignalHandler('SIGUSR2', () => ran.push('new'));
    process.kill(process.pid, 'SIGUSR2');
    loop.callLater(0, () => {});
    await loop.run();
    expect(ran).toEqual(['new']);
  });

  test('a throwing signal handler goes to the exception handler with the signal name', async () => {
    const loop = openLoop(backend);
    const seen: ExceptionContext[] = [];
    loop.setExceptionHandler((_err, ctx) => void seen.push(ctx));
    loop.addSignalHandler('SIGUSR2', () => {
      throw new Error('in handler');
    });
    process.kill(process.pid, 'SIGUSR2');
    let after = false;
    loop.callLater(0, () => loop.callSoon(() => void (after = true)));
    await loop.run();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ signal: 'SIGUSR2' });
    expect(seen[0].message).toMatch(/SIGUSR2/);
    expect(after).toBe(true);
  });

  test('refuses SIGKILL, SIGSTOP, unknown names and bad callbacks', () => {
    const loop = openLoop(backend);
    const cb = () => {};
    expectError(() => loop.addSignalHandler('SIGKILL', cb), RangeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => loop.addSignalHandler('SIGSTOP', cb), RangeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => loop.addSignalHandler('SIGNOPE' as NodeJS.Signals, cb), RangeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => loop.addSignalHandler('toString' as NodeJS.Signals, cb), RangeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => loop.addSignalHandler(10 as unknown as NodeJS.Signals, cb), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => loop.addSignalHandler('SIGUSR2', 'cb' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => loop.removeSignalHandler('SIGKILL'), RangeError, 'ERR_INVALID_ARG_VALUE');
    expect(loop.removeSignalHandler('SIGUSR2')).toBe(false);
  });

  test('one signal belongs to one open loop at a time', () => {
    const first = openLoop(backend);
    const second = openLoop(backend);
    first.addSignalHandler('SIGUSR2', () => {});
    expectError(() => second.addSignalHandler('SIGUSR2', () => {}), RangeError, 'ERR_INVALID_ARG_VALUE');
    first.removeSignalHandler('SIGUSR2');
    second.addSignalHandler('SIGUSR2', () => {});
    second.close();
    const third = new Loop({ backend });
    third.addSignalHandler('SIGUSR2', () => {});
    third.close();
  });

  test("the loop's wake-up pipe cannot be taken as a reader", () => {
    const loop = openLoop(backend);
    loop.addSignalHandler('SIGUSR2', () => {});
    // The wake pipe is the only fd registered with the selector.
    const [wakeFd] = [...loop.selector.getMap().keys()];
    expectError(() => loop.addReader(wakeFd, () => {}), RangeError, 'ERR_INVALID_ARG_VALUE');
    expect(loop.removeReader(wakeFd)).toBe(false);
  });
});
