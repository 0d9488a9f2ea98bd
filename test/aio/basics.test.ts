// async/await on sockets (DESIGN §3 Loop "async/await on sockets"; issue #3 item 4): sockConnect,
// sockAccept, sockSendAll, sockRecv and sockRecvInto do their job on every backend and family,
// wait as long as they must (a sendAll larger than every kernel buffer), report EOF as 0 / an
// empty Buffer, reject with the kernel's error, and reject (never throw) on bad arguments.
import { constants as osConstants } from 'node:os';
import { afterEach, describe, expect, test } from 'vitest';
import type { Loop } from '../../src/loop.js';
import { Socket } from '../../src/socket.js';
import { backends, openLoop } from '../loop/helpers.js';
import {
  closedPort,
  connectedPair,
  ipv6LoopbackAvailable,
  listener,
  pattern,
  rejectionOf,
  track,
  type PairKind,
} from '../helpers/net.js';
import { cleanup, openFdCount } from '../helpers/resources.js';

afterEach(cleanup);

const ipv6 = ipv6LoopbackAvailable();
if (!ipv6) console.warn('aio: IPv6 cases SKIPPED: IPv6 loopback ::1 cannot be bound on this machine');
const listenKinds = (['tcp4', 'tcp6', 'unix'] as const).filter((k) => k !== 'tcp6' || ipv6);

/** Reads exactly n bytes (fails on an early EOF). */
async function recvExactly(loop: Loop, sock: Socket, n: number): Promise<Buffer> {
  const out = Buffer.alloc(n);
  let got = 0;
  while (got < n) {
    const k = await loop.sockRecvInto(sock, out.subarray(got));
    if (k === 0) throw new Error(`EOF after ${got} of ${n} bytes`);
    got += k;
  }
  return out;
}

describe.each(backends)('%s loop', (backend) => {
  describe.each(listenKinds)('%s', (kind) => {
    test('sockConnect + sockAccept make a connected pair; bytes flow both ways', async () => {
      const loop = openLoop(backend);
      const l = listener(kind);
      const client = track(kind === 'tcp4' ? Socket.tcp() : kind === 'tcp6' ? Socket.tcp6() : Socket.unix());
      const [conn] = await loop.runUntilComplete(
        Promise.all([loop.sockAccept(l).then(track), loop.sockConnect(client, l.localAddress)]),
      );
      expect(conn.remoteAddress).toEqual(client.localAddress);
      const got = await loop.runUntilComplete(
        (async () => {
          await loop.sockSendAll(client, Buffer.from('ping'));
          const ping = await loop.sockRecv(conn, 100);
          await loop.sockSendAll(conn, Buffer.from('pong'));
          const pong = await loop.sockRecv(client, 100);
          return [ping.toString(), pong.toString()];
        })(),
      );
      expect(got).toEqual(['ping', 'pong']);
    });
  });

  const pairKinds = (['tcp4', 'tcp6', 'unix', 'socketpair'] as PairKind[]).filter((k) => k !== 'tcp6' || ipv6);

  test.each(pairKinds)(
    '%s: sockSendAll of 16 MiB waits for room as often as needed; every byte arrives in order',
    async (kind) => {
      const loop = openLoop(backend, 15_000);
      const [a, b] = connectedPair(kind);
      const data = pattern(16 << 20, 3);
      const [, got] = await loop.runUntilComplete(
        Promise.all([loop.sockSendAll(a, data), recvExactly(loop, b, data.length)]),
      );
      expect(got.equals(data)).toBe(true);
    },
  );

  test('sockRecv resolves with at most n bytes; sockRecvInto fills the given view', async () => {
    const loop = openLoop(backend);
    const [a, b] = connectedPair('socketpair');
    a.send(Buffer.from('0123456789'));
    const first = await loop.runUntilComplete(loop.sockRecv(b, 4));
    expect(first.toString()).toBe('0123');
    const buf = Buffer.alloc(12, '.');
    const n = await loop.runUntilComplete(loop.sockRecvInto(b, buf.subarray(2)));
    expect(n).toBe(6);
    expect(buf.toString()).toBe('..456789....');
  });

  test('a read that waits resolves once the peer sends, later', async () => {
    const loop = openLoop(backend);
    const [a, b] = connectedPair('tcp4');
    loop.callLater(30, () => void a.send(Buffer.from('late')));
    const start = loop.time();
    const got = await loop.runUntilComplete(loop.sockRecv(b, 16));
    expect(got.toString()).toBe('late');
    expect(loop.time() - start).toBeGreaterThanOrEqual(25);
  });

  test('EOF: sockRecvInto resolves 0 and sockRecv an empty Buffer, also after waiting', async () => {
    const loop = openLoop(backend);
    const [a, b] = connectedPair('tcp4');
    loop.callLater(20, () => a.shutdown('write'));
    expect(await loop.runUntilComplete(loop.sockRecvInto(b, Buffer.alloc(8)))).toBe(0);
    expect((await loop.runUntilComplete(loop.sockRecv(b, 8))).length).toBe(0);
  });

  test('sockAccept waits for a connection that comes later', async () => {
    const loop = openLoop(backend);
    const l = listener('tcp4');
    const client = track(Socket.tcp());
    loop.callLater(20, () => void client.connect(l.localAddress));
    const conn = track(await loop.runUntilComplete(loop.sockAccept(l)));
    expect(conn.family).toBe('IPv4');
  });

  test('sockConnect rejects with ECONNREFUSED for a closed port (with its errno and syscall connect)', async () => {
    const loop = openLoop(backend);
    const err = await loop.runUntilComplete(
      rejectionOf(loop.sockConnect(track(Socket.tcp()), { host: '127.0.0.1', port: closedPort() })),
    );
    expect([err.code, err.errno, err.syscall]).toEqual(['ECONNREFUSED', -osConstants.errno.ECONNREFUSED, 'connect']);
  });

  test('a read that waits rejects with ECONNRESET when the peer resets the connection', async () => {
    const loop = openLoop(backend);
    const [a, b] = connectedPair('tcp4');
    const reading = rejectionOf(loop.sockRecv(a, 16));
    // b closes with unread data in its receive queue: Linux sends a RST (tcp_close()).
    a.send(Buffer.from('unread'));
    loop.addReader(b, () => {
      loop.removeReader(b);
      b.close();
    });
    const err = await loop.runUntilComplete(reading);
    expect([err.code, err.errno, err.syscall]).toEqual(['ECONNRESET', -osConstants.errno.ECONNRESET, 'recv']);
  });

  test('sockSendAll sends a string as its UTF-8 bytes', async () => {
    const loop = openLoop(backend);
    const [a, b] = connectedPair('socketpair');
    const text = 'grüße ✓';
    const got = await loop.runUntilComplete(
      Promise.all([loop.sockSendAll(a, text), recvExactly(loop, b, Buffer.byteLength(text))]).then(([, buf]) => buf),
    );
    expect(got.toString('utf8')).toBe(text);
  });

  test('sockSendAll rejects with EPIPE on a socket whose write side is shut down', async () => {
    const loop = openLoop(backend);
    const [a] = connectedPair('tcp4');
    a.shutdown('write');
    const err = await loop.runUntilComplete(rejectionOf(loop.sockSendAll(a, Buffer.from('x'))));
    expect([err.code, err.syscall]).toEqual(['EPIPE', 'send']);
  });

  test('bad arguments reject (never throw) with ERR_INVALID_ARG_TYPE / ERR_INVALID_ARG_VALUE', async () => {
    const loop = openLoop(backend);
    const [a] = connectedPair('socketpair');
    const calls: Array<[() => Promise<unknown>, string]> = [
      [() => loop.sockRecv({} as never, 4), 'ERR_INVALID_ARG_TYPE'],
      [() => loop.sockRecv(a, 0), 'ERR_INVALID_ARG_VALUE'],
      [() => loop.sockRecv(a, 1.5), 'ERR_INVALID_ARG_VALUE'],
      [() => loop.sockRecvInto(a, 'buf' as never), 'ERR_INVALID_ARG_TYPE'],
      [() => loop.sockRecvInto(5 as never, Buffer.alloc(1)), 'ERR_INVALID_ARG_TYPE'],
      [() => loop.sockSendAll(a, 42 as never), 'ERR_INVALID_ARG_TYPE'],
      [() => loop.sockSendAll(null as never, Buffer.alloc(1)), 'ERR_INVALID_ARG_TYPE'],
      [() => loop.sockAccept('listener' as never), 'ERR_INVALID_ARG_TYPE'],
      [() => loop.sockConnect(undefined as never, { host: '127.0.0.1', port: 1 }), 'ERR_INVALID_ARG_TYPE'],
      [() => loop.sockConnect(track(Socket.tcp()), { host: '127.0.0.1', port: -1 }), 'ERR_INVALID_ARG_VALUE'],
    ];
    for (const [call, code] of calls) {
      let p: Promise<unknown> | undefined;
      expect(() => void (p = call())).not.toThrow();
      const err = await rejectionOf(p!);
      expect(err.code).toBe(code);
    }
  });

  test('operations on a closed socket reject with ERR_SOCKET_CLOSED', async () => {
    const loop = openLoop(backend);
    const [a] = connectedPair('socketpair');
    a.close();
    for (const p of [
      loop.sockRecv(a, 1),
      loop.sockRecvInto(a, Buffer.alloc(1)),
      loop.sockSendAll(a, Buffer.from('x')),
      loop.sockAccept(a),
      loop.sockConnect(a, { path: '/nonexistent' }),
    ]) {
      expect((await rejectionOf(p)).code).toBe('ERR_SOCKET_CLOSED');
    }
  });

  test('a few hundred awaited round trips leave no fd and no registration behind', async () => {
    const before = openFdCount();
    const loop = openLoop(backend);
    const [a, b] = connectedPair('tcp4');
    await loop.runUntilComplete(
      (async () => {
        for (let i = 0; i < 300; i++) {
          const msg = Buffer.from(`message ${i}`);
          await loop.sockSendAll(a, msg);
          const echo = await recvExactly(loop, b, msg.length);
          await loop.sockSendAll(b, echo);
          expect((await recvExactly(loop, a, msg.length)).equals(msg)).toBe(true);
        }
      })(),
    );
    await loop.run(); // the idle check drops the kept registrations; then nothing is left
    expect(loop.selector.getMap().size).toBe(0);
    a.close();
    b.close();
    await cleanup();
    expect(openFdCount()).toBe(before);
  });
});
