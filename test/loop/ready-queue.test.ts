// The ready queue and the order of one iteration (src/loop.ts header): callSoon() callbacks run
// first in, first out; anything scheduled during an iteration runs in a later one, so a callback
// that re-schedules itself never starves I/O or timers; within an iteration the queued callbacks
// run first, then I/O, then due timers. The DeadlineSelector counts selects: one per iteration.
import { afterEach, describe, expect, test } from 'vitest';
import { drain, expectError, pipe, writeBytes } from '../helpers/fds.js';
import { backends, openLoop } from './helpers.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

describe.each(backends)('%s loop: ready queue', (backend) => {
  test('callSoon callbacks run first in, first out', async () => {
    const loop = openLoop(backend);
    const order: number[] = [];
    for (let i = 0; i < 100; i++) loop.callSoon(() => order.push(i));
    await loop.run();
    expect(order).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(loop.selector.selects).toBe(1);
  });

  test('a callback queued by a callback runs in the next iteration', async () => {
    const loop = openLoop(backend);
    const at: Array<[string, number]> = [];
    const mark = (name: string) => at.push([name, loop.selector.selects]);
    loop.callSoon(() => {
      mark('a');
      loop.callSoon(() => {
        mark('c');
        loop.callSoon(() => mark('d'));
      });
    });
    loop.callSoon(() => mark('b'));
    await loop.run();
    expect(at).toEqual([
      ['a', 1],
      ['b', 1],
      ['c', 2],
      ['d', 3],
    ]);
  });

  test('a callback queued by an I/O callback runs in the next iteration', async () => {
    const loop = openLoop(backend);
    const [r, w] = pipe();
    writeBytes(w);
    const at: Array<[string, number]> = [];
    loop.addReader(r, () => {
      at.push(['reader', loop.selector.selects]);
      drain(r);
      loop.removeReader(r);
      loop.callSoon(() => at.push(['soon', loop.selector.selects]));
    });
    await loop.run();
    expect(at).toEqual([
      ['reader', 1],
      ['soon', 2],
    ]);
  });

  test('within an iteration: queued callbacks, then I/O, then due timers', async () => {
    const loop = openLoop(backend);
    const [r, w] = pipe();
    writeBytes(w);
    const order: string[] = [];
    loop.callLater(0, () => order.push('timer'));
    loop.addReader(r, () => {
      order.push('reader');
      loop.removeReader(r);
    });
    loop.callSoon(() => order.push('soon'));
    await loop.run();
    expect(order).toEqual(['soon', 'reader', 'timer']);
    expect(loop.selector.selects).toBe(1);
  });

  test('a callback that re-schedules itself forever does not starve a reader or a timer', async () => {
    const loop = openLoop(backend);
    const [r, w] = pipe();
    let spins = 0;
    let sawRead = false;
    let sawTimer = false;
    const spin = () => {
      spins++;
      if (sawRead && sawTimer) loop.stop();
      else loop.callSoon(spin);
    };
    loop.callSoon(spin);
    loop.callLater(5, () => {
      sawTimer = true;
      writeBytes(w);
    });
    loop.addReader(r, () => {
      sawRead = true;
      drain(r);
      loop.removeReader(r);
    });
    await loop.run();
    expect(sawRead && sawTimer).toBe(true);
    // One spin per iteration: the spinner never ran twice in one iteration.
    expect(spins).toBe(loop.selector.selects);
  });

  test('a cancelled callSoon handle does not run', async () => {
    const loop = openLoop(backend);
    const ran: string[] = [];
    loop.callSoon(() => ran.push('a'));
    const b = loop.callSoon(() => ran.push('b'));
    loop.callSoon(() => ran.push('c'));
    b.cancel();
    expect(b.cancelled).toBe(true);
    await loop.run();
    expect(ran).toEqual(['a', 'c']);
  });

  test('a callback can cancel a later one queued for the same iteration', async () => {
    const loop = openLoop(backend);
    const ran: string[] = [];
    loop.callSoon(() => {
      ran.push('a');
      b.cancel();
    });
    const b = loop.callSoon(() => ran.push('b'));
    await loop.run();
    expect(ran).toEqual(['a']);
  });

  test('100 000 queued callbacks all run, in order (the queue grows)', async () => {
    const loop = openLoop(backend);
    let next = 0;
    let inOrder = true;
    for (let i = 0; i < 100_000; i++) {
      loop.callSoon(() => {
        if (i !== next) inOrder = false;
        next++;
      });
    }
    await loop.run();
    expect(next).toBe(100_000);
    expect(inOrder).toBe(true);
  });

  test('callSoon refuses a callback that is not a function', () => {
    const loop = openLoop(backend);
    expectError(() => loop.callSoon('nope' as unknown as () => void), TypeError, 'ERR_INVALID_ARG_TYPE');
  });
});
