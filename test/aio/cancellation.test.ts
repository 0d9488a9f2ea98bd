// Cancellation safety (src/aio.ts "Closing the socket drops it at once and rejects any waiter";
// issue #3 item 4): closing a socket while a read, a sendAll, an accept or a connect waits on it
// rejects that waiter with ERR_SOCKET_CLOSED, unregisters the fd at once (so a new fd with the same
// number is not watched for the old owner) and leaves the loop with nothing to wait for. A second
// read (or sendAll) on a socket that already has one waiting rejects clearly, before it touches
// the stream, and a refused registration leaves no waiter behind.
import { afterEach, describe, expect, test } from 'vitest';
import { native } from '../../src/native.js';
import { Socket, socketpair } from '../../src/socket.js';
import { availableBackends } from '../../src/selectors.js';
import { backends, openLoop } from '../loop/helpers.js';
import {
  connectedPair,
  drainSocket,
  fillSocket,
  listener,
  pattern,
  rejectionOf,
  track,
  waitReadable,
} from '../helpers/net.js';
import { cleanup, openFdCount } from '../helpers/resources.js';

afterEach(cleanup);

describe.each(backends)('%s loop: closing a socket with a waiter', (backend) => {
  const waits: Array<[string, (loop: ReturnType<typeof openLoop>) => [Socket, Promise<unknown>]]> = [
    [
      'sockRecv',
      (loop) => {
        const [, b] = connectedPair('tcp4');
        return [b, loop.sockRecv(b, 8)];
      },
    ],
    [
      'sockRecvInto',
      (loop) => {
        const [, b] = connectedPair('unix');
        return [b, loop.sockRecvInto(b, Buffer.alloc(8))];
      },
    ],
    [
      'sockSendAll',
      (loop) => {
        const [a] = connectedPair('tcp4');
        fillSocket(a);
        return [a, loop.sockSendAll(a, Buffer.alloc(1 << 20))];
      },
    ],
    [
      'sockAccept',
      (loop) => {
        const l = listener('tcp4');
        return [l, loop.sockAccept(l)];
      },
    ],
    [
      'sockConnect',
      (loop) => {
        // A listener that never accepts, with its backlog full: the handshake cannot complete, so
        // the connect really waits (a plain loopback connect may finish at once).
        const l = listener('tcp4', 0);
        for (let i = 0; i < 4; i++) track(Socket.tcp()).connect(l.localAddress);
        const c = track(Socket.tcp());
        return [c, loop.sockConnect(c, l.localAddress)];
      },
    ],
  ];

  test.each(waits)('%s rejects with ERR_SOCKET_CLOSED, and the fd is unregistered at once', async (_name, start) => {
    const loop = openLoop(backend);
    const [sock, p] = start(loop);
    const caught = rejectionOf(p);
    const fd = sock.fd;
    expect(loop.selector.getMap().has(fd)).toBe(true);
    sock.close();
    expect(loop.selector.getMap().size).toBe(0);
    const err = await caught;
    expect(err.code).toBe('ERR_SOCKET_CLOSED');
    expect(err.message).toContain(`fd ${fd}`);
    // Nothing is left to wait for: run() returns at once instead of hanging.
    await loop.run();
    expect(loop.selector.selects).toBeLessThanOrEqual(1);
  });

  test('closing from a loop callback while the coroutine waits rejects it, and the loop ends', async () => {
    const loop = openLoop(backend);
    const [, b] = connectedPair('tcp4');
    const caught = rejectionOf(loop.sockRecv(b, 8));
    loop.callLater(20, () => b.close());
    const err = await loop.runUntilComplete(caught);
    expect(err.code).toBe('ERR_SOCKET_CLOSED');
    await loop.run();
    expect(loop.selector.getMap().size).toBe(0);
  });

  test('a read and a sendAll waiting on one socket are both rejected by one close', async () => {
    const loop = openLoop(backend);
    const [a] = connectedPair('tcp4');
    fillSocket(a);
    const r = rejectionOf(loop.sockRecv(a, 8));
    const w = rejectionOf(loop.sockSendAll(a, Buffer.alloc(1024)));
    a.close();
    expect((await r).code).toBe('ERR_SOCKET_CLOSED');
    expect((await w).code).toBe('ERR_SOCKET_CLOSED');
    expect(loop.selector.getMap().size).toBe(0);
  });

  test("a new fd that reuses the closed one's number is not watched for the old waiter", async () => {
    const loop = openLoop(backend);
    const [, b] = connectedPair('tcp4');
    const fd = b.fd;
    const caught = rejectionOf(loop.sockRecv(b, 8));
    b.close();
    const [c, d] = socketpair();
    track(c);
    track(d);
    expect([c.fd, d.fd]).toContain(fd);
    (c.fd === fd ? d : c).send(Buffer.from('data for the new owner'));
    expect((await caught).code).toBe('ERR_SOCKET_CLOSED');
    await loop.run(); // nothing registered: returns at once, the new owner's data untouched
    const mine = c.fd === fd ? c : d;
    waitReadable(mine);
    expect(mine.recv(64)?.toString()).toBe('data for the new owner');
  });

  test('a thousand wait-and-close cycles leak no fd and no registration', async () => {
    const before = openFdCount();
    const loop = openLoop(backend);
    for (let i = 0; i < 1000; i++) {
      const [a, b] = socketpair();
      const p = rejectionOf(loop.sockRecv(b, 8));
      b.close();
      a.close();
      expect((await p).code).toBe('ERR_SOCKET_CLOSED');
    }
    expect(loop.selector.getMap().size).toBe(0);
    await cleanup();
    expect(openFdCount()).toBe(before);
  });
});

describe.each(backends)('%s loop: concurrent operations on one socket', (backend) => {
  test('a second read while one waits rejects clearly; the first still gets the data', async () => {
    const loop = openLoop(backend);
    const [a, b] = connectedPair('tcp4');
    const first = loop.sockRecv(b, 16);
    const err = await rejectionOf(loop.sockRecv(b, 16));
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(err.message).toBe(`Another operation is already waiting to read on fd ${b.fd}`);
    a.send(Buffer.from('for the first'));
    expect((await loop.runUntilComplete(first)).toString()).toBe('for the first');
  });

  test('a second read rejects even when data has arrived meanwhile (it must not steal it)', async () => {
    const loop = openLoop(backend);
    const [a, b] = connectedPair('tcp4');
    const first = loop.sockRecv(b, 16);
    a.send(Buffer.from('for the first'));
    waitReadable(b);
    const err = await rejectionOf(loop.sockRecvInto(b, Buffer.alloc(16)));
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
    expect((await loop.runUntilComplete(first)).toString()).toBe('for the first');
  });

  test('a second sendAll while one waits rejects before sending a byte: the stream is not interleaved', async () => {
    const loop = openLoop(backend, 10_000);
    const [a, b] = connectedPair('tcp4');
    const big = pattern(8 << 20, 9);
    const sending = loop.sockSendAll(a, big);
    // The peer makes room, so a try-first send by the second caller would succeed mid-stream.
    let received = drainSocket(b)[0];
    const err = await rejectionOf(loop.sockSendAll(a, Buffer.from('INTRUDER')));
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
    expect(err.message).toBe(`Another operation is already waiting to write on fd ${a.fd}`);
    const rest: Buffer[] = [];
    const reading = (async () => {
      while (received < big.length) {
        const chunk = await loop.sockRecv(b, 1 << 20);
        if (chunk.length === 0) break;
        rest.push(chunk);
        received += chunk.length;
      }
    })();
    await loop.runUntilComplete(Promise.all([sending, reading]));
    const tail = Buffer.concat(rest);
    expect(tail.equals(big.subarray(big.length - tail.length))).toBe(true);
    expect(received).toBe(big.length);
  });

  test('one read and one sendAll may wait on the same socket at once (full duplex)', async () => {
    const loop = openLoop(backend, 10_000);
    const [a, b] = connectedPair('tcp4');
    const big = pattern(4 << 20, 5);
    const echo = (async () => {
      const got: Buffer[] = [];
      let n = 0;
      while (n < big.length) {
        const c = await loop.sockRecv(b, 1 << 20);
        got.push(c);
        n += c.length;
      }
      return Buffer.concat(got);
    })();
    const [, got, back] = await loop.runUntilComplete(
      Promise.all([
        loop.sockSendAll(a, big),
        echo,
        (async () => {
          await loop.sockSendAll(b, Buffer.from('reply'));
          return loop.sockRecv(a, 16);
        })(),
      ]),
    );
    expect(got.equals(big)).toBe(true);
    expect(back.toString()).toBe('reply');
  });
});

describe.runIf(availableBackends().includes('select'))('select loop: a refused registration', () => {
  test('an fd >= FD_SETSIZE rejects with ERR_FD_OUT_OF_RANGE every time, and leaves no waiter behind', async () => {
    const loop = openLoop('select');
    // Push the next fds past FD_SETSIZE with placeholder pipes (closed in finally).
    const fillers: number[] = [];
    try {
      while (fillers.length < 2 * native.FD_SETSIZE) {
        const p = native.pipe();
        if (typeof p === 'number') throw new Error('pipe failed');
        fillers.push(...p);
        if (p[1] >= native.FD_SETSIZE) break;
      }
      const [a, b] = socketpair();
      track(a);
      track(b);
      expect(b.fd).toBeGreaterThanOrEqual(native.FD_SETSIZE);
      for (let i = 0; i < 2; i++) {
        const err = await rejectionOf(loop.sockRecv(b, 4));
        expect(err.code).toBe('ERR_FD_OUT_OF_RANGE');
      }
      // Data there: try-first still works on such a socket, no registration needed.
      a.send(Buffer.from('ok'));
      expect((await loop.sockRecv(b, 4)).toString()).toBe('ok');
    } finally {
      for (const fd of fillers) native.close(fd);
    }
  });
});
