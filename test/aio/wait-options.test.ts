// Timeouts and cancellation on every sock* method (DESIGN §6.4): `{ signal, timeout }`. An abort
// rejects with an AbortError (code ABORT_ERR, cause = the signal's reason), a timeout with
// ETIMEDOUT, measured by a loop timer so it fires while run() owns the thread. Either way nothing
// is consumed, the waiter is released and the socket stays usable; an already-aborted signal
// rejects before any syscall; a completed operation leaves no timer or listener behind.
import { afterEach, describe, expect, test } from 'vitest';
import { cleanup, openFdCount } from '../helpers/resources.js';
import { Socket } from '../../src/socket.js';
import type { Loop } from '../../src/loop.js';
import { openLoop } from '../loop/helpers.js';
import { inMode, modes } from '../helpers/modes.js';
import { INDEX, runProgram } from '../helpers/program.js';
import { connectedPair, drainSocket, fillSocket, listener, rejectionOf, track } from '../helpers/net.js';

afterEach(cleanup);

/** Aborts `ac` from a loop callback after `ms` of loop time. */
function abortLater(loop: Loop, ac: AbortController, ms: number, reason?: unknown): void {
  loop.callLater(ms, () => ac.abort(reason));
}

describe.each(modes)('$name: sock* timeouts', (mode) => {
  test('sockRecv times out with ETIMEDOUT; the bytes sent next are all read by a later call', async () => {
    const [a, b] = connectedPair('tcp4');
    await inMode(mode, async (loop) => {
      const t0 = loop.time();
      const err = await rejectionOf(loop.sockRecv(b, 16, { timeout: 20 }));
      expect(err.code).toBe('ETIMEDOUT');
      expect(err.message).toContain('ETIMEDOUT');
      expect(loop.time() - t0).toBeGreaterThanOrEqual(20);
      a.send(Buffer.from('after the timeout'));
      expect((await loop.sockRecv(b, 64, { timeout: 2000 })).toString()).toBe('after the timeout');
    });
  });

  test('sockRecvInto, sockAccept and sockConnect time out and leave the socket usable', async () => {
    const l = listener('tcp4');
    const [, b] = connectedPair('unix');
    await inMode(mode, async (loop) => {
      expect((await rejectionOf(loop.sockRecvInto(b, Buffer.alloc(4), { timeout: 5 }))).code).toBe('ETIMEDOUT');
      expect((await rejectionOf(loop.sockAccept(l, { timeout: 5 }))).code).toBe('ETIMEDOUT');
      const c = track(Socket.tcp());
      await loop.sockConnect(c, l.localAddress, { timeout: 2000 });
      const conn = track(await loop.sockAccept(l, { timeout: 2000 }));
      expect(conn.remoteAddress).toEqual(c.localAddress);
    });
  });

  test('sockSendAll times out when the peer does not read; bytesWritten says what was sent', async () => {
    const [a, b] = connectedPair('socketpair');
    await inMode(mode, async (loop) => {
      const big = Buffer.alloc(4 << 20, 7);
      const err = (await rejectionOf(loop.sockSendAll(a, big, { timeout: 20 }))) as Error & {
        code: string;
        bytesWritten: number;
      };
      expect(err.code).toBe('ETIMEDOUT');
      expect(err.bytesWritten).toBeGreaterThan(0);
      expect(err.bytesWritten).toBeLessThan(big.length);
      // The socket stays usable: after the peer drains, a later sendAll goes through.
      const [got] = drainSocket(b);
      expect(got).toBe(err.bytesWritten);
      await loop.sockSendAll(a, Buffer.from('more'), { timeout: 2000 });
      expect((await loop.sockRecv(b, 16)).toString()).toBe('more');
    });
  });

  test('a completed operation cancels its timer: nothing is left to keep the loop alive', async () => {
    const [a, b] = connectedPair('socketpair');
    a.send(Buffer.from('x'));
    const loop = mode.attached ? null : openLoop(mode.backend, 2000);
    if (loop === null) return; // liveness under attach() is the embedded driver's (test/loop/attached)
    await loop.runUntilComplete(
      (async () => {
        expect((await loop.sockRecv(b, 4, { timeout: 60_000 })).toString()).toBe('x');
        const waiting = loop.sockRecv(b, 4, { timeout: 60_000 });
        a.send(Buffer.from('y'));
        expect((await waiting).toString()).toBe('y');
        await loop.sockSendAll(a, Buffer.from('z'), { timeout: 60_000 });
      })(),
    );
    // A live 60 s timer would keep run() waiting until the 2 s test deadline makes it throw.
    await loop.run();
  });

  test('timeout <= 0 polls: data already there is returned, else ETIMEDOUT at once', async () => {
    const [a, b] = connectedPair('socketpair');
    await inMode(mode, async (loop) => {
      expect((await rejectionOf(loop.sockRecv(b, 4, { timeout: 0 }))).code).toBe('ETIMEDOUT');
      a.send(Buffer.from('z'));
      expect((await loop.sockRecv(b, 4, { timeout: 0 })).toString()).toBe('z');
    });
  });
});

describe.each(modes)('$name: sock* cancellation with an AbortSignal', (mode) => {
  test('abort rejects with AbortError / ABORT_ERR, cause = reason; a later recv gets every byte', async () => {
    const [a, b] = connectedPair('tcp4');
    await inMode(mode, async (loop) => {
      const ac = new AbortController();
      const reason = new Error('user gave up');
      abortLater(loop, ac, 5, reason);
      const err = await rejectionOf(loop.sockRecv(b, 16, { signal: ac.signal }));
      expect(err.name).toBe('AbortError');
      expect(err.code).toBe('ABORT_ERR');
      expect(err.cause).toBe(reason);
      a.send(Buffer.from('still here'));
      expect((await loop.sockRecv(b, 64)).toString()).toBe('still here');
    });
  });

  test('an already-aborted signal rejects at once, before any syscall: the data stays queued', async () => {
    const [a, b] = connectedPair('socketpair');
    a.send(Buffer.from('queued'));
    const l = listener('tcp4');
    await inMode(mode, async (loop) => {
      const signal = AbortSignal.abort('early');
      for (const p of [
        loop.sockRecv(b, 16, { signal }),
        loop.sockRecvInto(b, Buffer.alloc(4), { signal }),
        loop.sockSendAll(a, Buffer.from('never sent'), { signal }),
        loop.sockAccept(l, { signal }),
        loop.sockConnect(track(Socket.tcp()), l.localAddress, { signal }),
      ]) {
        const err = await rejectionOf(p);
        expect(err.code).toBe('ABORT_ERR');
        expect(err.cause).toBe('early');
      }
      expect((await loop.sockRecv(b, 16)).toString()).toBe('queued');
      expect(drainSocket(b)).toEqual([0, false]); // "never sent" was not sent
      // The read above went through the loop (batched path): its registration goes when idle.
      await new Promise<void>((resolve) => loop.callLater(5, resolve));
      expect(loop.selector.getMap().size).toBe(0);
    });
  });

  test('abort releases the waiter and the registration: another wait may start at once', async () => {
    const [a, b] = connectedPair('socketpair');
    await inMode(mode, async (loop) => {
      const ac = new AbortController();
      const first = loop.sockRecv(b, 8, { signal: ac.signal });
      const caught = rejectionOf(first);
      ac.abort();
      expect((await caught).code).toBe('ABORT_ERR');
      const second = loop.sockRecv(b, 8); // not "busy"
      a.send(Buffer.from('ok'));
      expect((await second).toString()).toBe('ok');
    });
  });

  test('abort of a sockSendAll to a full socket, then the socket is still writable later', async () => {
    const [a, b] = connectedPair('tcp4');
    fillSocket(a);
    await inMode(mode, async (loop) => {
      const ac = new AbortController();
      abortLater(loop, ac, 5);
      const err = await rejectionOf(loop.sockSendAll(a, Buffer.alloc(1 << 16), { signal: ac.signal }));
      expect(err.code).toBe('ABORT_ERR');
      expect((err as { bytesWritten?: number }).bytesWritten).toBe(0);
      while (drainSocket(b)[0] > 0) await new Promise<void>((r) => loop.callLater(1, r));
      await loop.sockSendAll(a, Buffer.from('fine'));
    });
  });

  test('a completed operation removes its abort listener; aborting afterwards changes nothing', async () => {
    const [a, b] = connectedPair('socketpair');
    const ac = new AbortController();
    let listeners = 0;
    const add = ac.signal.addEventListener.bind(ac.signal);
    const remove = ac.signal.removeEventListener.bind(ac.signal);
    ac.signal.addEventListener = (...args: Parameters<typeof add>) => {
      listeners++;
      add(...args);
    };
    ac.signal.removeEventListener = (...args: Parameters<typeof remove>) => {
      listeners--;
      remove(...args);
    };
    await inMode(mode, async (loop) => {
      const p = loop.sockRecv(b, 4, { signal: ac.signal });
      a.send(Buffer.from('hi'));
      expect((await p).toString()).toBe('hi');
      await loop.sockSendAll(a, Buffer.from('x'), { signal: ac.signal });
      expect(listeners).toBe(0);
      ac.abort();
    });
  });
});

describe('wait options: bad arguments and fd cleanup', () => {
  test('a bad signal or timeout is a rejection with ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE', async () => {
    const [, b] = connectedPair('socketpair');
    await inMode(modes[0], async (loop) => {
      expect((await rejectionOf(loop.sockRecv(b, 4, { signal: {} as AbortSignal }))).code).toBe('ERR_INVALID_ARG_TYPE');
      expect((await rejectionOf(loop.sockRecv(b, 4, { timeout: '5' as unknown as number }))).code).toBe(
        'ERR_INVALID_ARG_TYPE',
      );
      expect((await rejectionOf(loop.sockRecv(b, 4, { timeout: NaN }))).code).toBe('ERR_INVALID_ARG_VALUE');
    });
  });

  test('200 timed-out receives leak no fd and no registration', async () => {
    const [, b] = connectedPair('socketpair');
    const before = openFdCount();
    await inMode(modes[0], async (loop) => {
      for (let i = 0; i < 200; i++) {
        expect((await rejectionOf(loop.sockRecv(b, 4, { timeout: 0 }))).code).toBe('ETIMEDOUT');
      }
    });
    expect(openFdCount()).toBe(before);
  });
});

describe('wait options: an attached program exits once its operation is done', () => {
  // Regression: the embedded driver kept the Node timer it had armed for the operation's timeout
  // after the timeout was cancelled, so the process lived on until that timer fired.
  test('a sockRecv with a 30 s timeout that completed does not keep the process alive', async () => {
    if (!modes.some((m) => m.attached)) return;
    const { exit, out } = await runProgram(`
      import { Loop, socketpair } from ${JSON.stringify(INDEX)};
      const loop = new Loop({ backend: 'epoll' });
      loop.attach();
      const [a, b] = socketpair();
      setTimeout(() => a.send('x'), 20);
      const got = await loop.sockRecv(b, 4, { timeout: 30000 });
      console.log(got.toString());
      a.close();
      b.close();`);
    expect(exit).toBe(0);
    expect(out.trim()).toBe('x');
  }, 15_000);
});
