// Small parity items (DESIGN §6.4): callAt() schedules on the loop.time() clock, in the same heap
// and order as callLater(); `using` closes a loop through Symbol.dispose; LoopOptions.backend is
// typed BackendName; Transport.write() takes strings as UTF-8.
import { afterEach, describe, expect, test } from 'vitest';
import { cleanup } from '../helpers/resources.js';
import { Loop } from '../../src/loop.js';
import { expectError } from '../helpers/fds.js';
import { connectedPair, drainSocket } from '../helpers/net.js';
import { inMode, modes } from '../helpers/modes.js';
import { backends } from './helpers.js';
import { Transport } from '../../src/transports.js';
import { ReadSlab } from '../../src/read-slab.js';

afterEach(cleanup);

describe.each(modes)('$name: callAt', (mode) => {
  test('fires no earlier than `when` on the loop.time() clock, in deadline order with callLater', async () => {
    const fired = await inMode(
      mode,
      (loop) =>
        new Promise<Array<[string, number]>>((resolve) => {
          const out: Array<[string, number]> = [];
          const t0 = loop.time();
          loop.callAt(t0 + 20, () => out.push(['at+20', loop.time() - t0]));
          loop.callLater(10, () => out.push(['later10', loop.time() - t0]));
          loop.callAt(t0 + 5, () => out.push(['at+5', loop.time() - t0]));
          loop.callAt(t0 + 30, () => resolve(out));
        }),
    );
    expect(fired.map(([name]) => name)).toEqual(['at+5', 'later10', 'at+20']);
    expect(fired[0][1]).toBeGreaterThanOrEqual(5);
    expect(fired[2][1]).toBeGreaterThanOrEqual(20);
  });

  test('a time in the past runs in a later iteration, after the ties made before it', async () => {
    const order = await inMode(
      mode,
      (loop) =>
        new Promise<string[]>((resolve) => {
          const out: string[] = [];
          const past = loop.time() - 1000;
          loop.callAt(past, () => out.push('first'));
          loop.callAt(past, () => out.push('second'));
          loop.callSoon(() => out.push('soon'));
          loop.callLater(1, () => resolve(out));
        }),
    );
    expect(order).toEqual(['soon', 'first', 'second']);
  });

  test('a cancelled callAt never runs and does not keep the loop alive', async () => {
    let ran = false;
    await inMode(mode, async (loop) => {
      const h = loop.callAt(loop.time() + 10_000, () => {
        ran = true;
      });
      h.cancel();
      expect(h.cancelled).toBe(true);
    });
    expect(ran).toBe(false);
  });
});

describe.each(backends)('%s loop: callAt arguments, dispose', (backend) => {
  test('callAt refuses a non-number or NaN and a non-function', () => {
    const loop = new Loop({ backend });
    using _ = loop;
    expectError(() => loop.callAt('1' as unknown as number, () => {}), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => loop.callAt(NaN, () => {}), RangeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => loop.callAt(0, 5 as unknown as () => void), TypeError, 'ERR_INVALID_ARG_TYPE');
  });

  test('`using` closes the loop at the end of the block, like close()', () => {
    let outer: Loop;
    {
      using loop = new Loop({ backend });
      outer = loop;
      expect(loop.closed).toBe(false);
    }
    expect(outer.closed).toBe(true);
    expectError(() => outer.callAt(0, () => {}), Error, 'ERR_LOOP_CLOSED');
    outer[Symbol.dispose](); // twice is a no-op, as close() is
  });

  test('LoopOptions.backend takes a BackendName; an unknown name is still refused at run time', () => {
    expectError(() => new Loop({ backend: 'nope' as never }), RangeError, 'ERR_INVALID_ARG_VALUE');
  });
});

describe.each(modes)('$name: Transport.write takes strings', (mode) => {
  test('a string is sent as its UTF-8 bytes', async () => {
    const [a, b] = connectedPair('socketpair');
    await inMode(mode, async (loop) => {
      const t = new Transport(loop, a, {}, new ReadSlab());
      t.write('héllo ✓');
      t.close();
    });
    const buf = Buffer.alloc(64);
    const n = b.recvInto(buf)!;
    expect(buf.subarray(0, n).toString('utf8')).toBe('héllo ✓');
    expect(drainSocket(b)).toEqual([0, true]);
  });
});
