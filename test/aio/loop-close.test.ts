// Closing a loop while async/await calls wait on it (issue 9, bug 3). Before, the waiter was
// orphaned: its promise never settled, and the socket stayed "busy" for every other loop
// ("Another operation is already waiting"). Now loop.close() rejects every pending waiter with
// ERR_LOOP_CLOSED and forgets the socket, which stays open and usable from another loop.
import { afterEach, describe, expect, test } from 'vitest';
import { Socket } from '../../src/socket.js';
import type { Loop } from '../../src/loop.js';
import { backends, openLoop } from '../loop/helpers.js';
import { connectTo, connectedPair, drainSocket, fillSocket, listener, rejectionOf, track } from '../helpers/net.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

/** `p`'s rejection, or a failure if it is still pending after `ms` (the loop is closed: Node's timers run). */
function rejectionWithin(p: Promise<unknown>, ms = 2000): Promise<Error & { code?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending ${ms} ms after loop.close()`)), ms);
  });
  return Promise.race([rejectionOf(p), late]).finally(() => clearTimeout(timer));
}

/** A wait on `loop`, and how to finish the same kind of operation on another loop afterwards. */
type Wait = (loop: Loop) => { sock: Socket; pending: Promise<unknown>; again: (other: Loop) => Promise<unknown> };

describe.each(backends)('%s loop: close() with async calls pending', (backend) => {
  const waits: Array<[string, Wait]> = [
    [
      'sockRecv',
      (loop) => {
        const [a, b] = connectedPair('tcp4');
        return {
          sock: b,
          pending: loop.sockRecv(b, 8),
          again: async (other) => {
            a.send(Buffer.from('later'));
            expect((await other.sockRecv(b, 8)).toString()).toBe('later');
          },
        };
      },
    ],
    [
      'sockSendAll',
      (loop) => {
        const [a, b] = connectedPair('unix');
        fillSocket(a);
        return {
          sock: a,
          pending: loop.sockSendAll(a, Buffer.alloc(1 << 20)),
          again: async (other) => {
            drainSocket(b);
            await other.sockSendAll(a, Buffer.from('room again'));
          },
        };
      },
    ],
    [
      'sockAccept',
      (loop) => {
        const l = listener('tcp4');
        return {
          sock: l,
          pending: loop.sockAccept(l),
          again: async (other) => {
            connectTo(l);
            track(await other.sockAccept(l));
          },
        };
      },
    ],
  ];

  test.each(waits)(
    '%s rejects with ERR_LOOP_CLOSED, and another loop can then use the socket',
    async (_name, start) => {
      const loop = openLoop(backend);
      const { pending, again } = start(loop);
      loop.close();
      const err = await rejectionWithin(pending);
      expect(err.code).toBe('ERR_LOOP_CLOSED');
      const other = openLoop(backend);
      await other.runUntilComplete(again(other));
      expect(other.selector.getMap().size).toBeLessThanOrEqual(1); // at most a kept registration
    },
  );

  test('a read and a sendAll waiting on one socket are both rejected; the socket stays open', async () => {
    const loop = openLoop(backend);
    const [a, b] = connectedPair('tcp4');
    fillSocket(a);
    const r = loop.sockRecv(a, 8);
    const w = loop.sockSendAll(a, Buffer.alloc(1024));
    loop.close();
    expect((await rejectionWithin(r)).code).toBe('ERR_LOOP_CLOSED');
    expect((await rejectionWithin(w)).code).toBe('ERR_LOOP_CLOSED');
    expect(a.closed).toBe(false);
    b.send(Buffer.from('x'));
    const other = openLoop(backend);
    expect((await other.runUntilComplete(other.sockRecv(a, 8))).toString()).toBe('x');
  });

  test('a loop that ran, then stopped with a read still waiting, rejects it on close()', async () => {
    const loop = openLoop(backend);
    const [, b] = connectedPair('tcp4');
    const pending = loop.sockRecv(b, 8);
    pending.catch(() => {}); // settled later; no unhandled-rejection warning meanwhile
    await loop.runUntilComplete(sleep(10, loop));
    loop.close();
    expect((await rejectionWithin(pending)).code).toBe('ERR_LOOP_CLOSED');
    // Closing the socket afterwards is an ordinary close: nothing left to unregister or reject.
    b.close();
  });

  test("closing a loop a socket was awaited on before leaves another loop's wait on it alone", async () => {
    const first = openLoop(backend);
    const second = openLoop(backend);
    const [a, b] = connectedPair('tcp4');
    a.send(Buffer.from('one'));
    expect((await first.runUntilComplete(first.sockRecv(b, 8))).toString()).toBe('one');
    const pending = second.sockRecv(b, 8); // the socket's wait state moves to the second loop
    first.close();
    // Still known as waiting: a second read on it is refused, not registered beside the first.
    expect((await rejectionOf(second.sockRecv(b, 8))).code).toBe('ERR_INVALID_ARG_VALUE');
    a.send(Buffer.from('two'));
    expect((await second.runUntilComplete(pending)).toString()).toBe('two');
    b.close(); // rejects nothing, unregisters from the second loop
    expect(b.closed).toBe(true);
  });
});
