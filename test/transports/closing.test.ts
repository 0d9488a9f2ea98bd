// Ending a connection (src/transports.ts; asyncio's Transport): close() stops reading, flushes
// what is queued, then closes and calls connectionLost(null); abort() drops the queue and closes at
// once; writeEof() half-closes after the queue is sent; eofReceived() returning true keeps the
// transport open for writing, anything else closes it; a reset ends it with connectionLost(err);
// every write after the end throws ERR_TRANSPORT_CLOSED; and the fd is released every time.
import { afterEach, describe, expect, test } from 'vitest';
import type { Loop } from '../../src/loop.js';
import { Socket } from '../../src/socket.js';
import type { ConnectOptions, Server, Transport } from '../../src/transports.js';
import { expectError } from '../helpers/fds.js';
import { backends, openLoop } from '../loop/helpers.js';
import { Recorder, connect, pattern, smallBuffers, track, trackServer } from '../helpers/net.js';
import { cleanup, openFdCount } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

/** `end` is 'eof', or the error code the read failed with. */
type Outcome = { data: Buffer; end: string };

/** Reads until EOF or an error; reports the bytes and how the stream ended. Waits `delay` first. */
async function readToEnd(loop: Loop, sock: Socket, delay = 0): Promise<Outcome> {
  if (delay > 0) await sleep(delay, loop);
  const parts: Buffer[] = [];
  for (;;) {
    let chunk: Buffer;
    try {
      chunk = await loop.sockRecv(sock, 1 << 20);
    } catch (err) {
      return { data: Buffer.concat(parts), end: (err as { code: string }).code };
    }
    if (chunk.length === 0) return { data: Buffer.concat(parts), end: 'eof' };
    parts.push(chunk);
  }
}

/** Kernel buffer size on both ends: far below the megabytes the tests write (see smallBuffers). */
const KERNEL_BUFFER = 64 * 1024;

/**
 * A server whose protocols are Recorders made by `make`; resolves with the server and a raw client.
 * Both ends get small kernel buffers, so a large write leaves most of its bytes in the transport's
 * queue (past the high-water mark) on any machine, whatever its TCP autotuning limits.
 */
async function serverAndRawClient(
  loop: Loop,
  make: () => Recorder,
): Promise<{ srv: Server; client: Socket; server: () => Recorder }> {
  let last: Recorder | undefined;
  let made!: () => void;
  const madeOnce = new Promise<void>((resolve) => (made = resolve));
  const factory = () => {
    const rec = make();
    const onMade = rec.onMade;
    rec.onMade = (t) => {
      smallBuffers(t.socket, KERNEL_BUFFER); // before the protocol's first write
      onMade?.(t);
      made();
    };
    return (last = rec);
  };
  const srv = trackServer(await loop.createServer(factory, { host: '127.0.0.1', port: 0 }));
  const client = track(Socket.tcp());
  smallBuffers(client, KERNEL_BUFFER);
  await loop.runUntilComplete(loop.sockConnect(client, srv.address as { host: string; port: number }));
  // Waits for connectionMade itself: a fixed sleep can end first on a loaded machine.
  await loop.runUntilComplete(madeOnce);
  return { srv, client, server: () => last! };
}

describe.each(backends)('%s loop', (backend) => {
  test('close() with 8 MiB queued flushes every byte to the peer, then calls connectionLost(null)', async () => {
    const loop = openLoop(backend, 10_000);
    const data = pattern(8 << 20, 11);
    let queuedAtClose = -1;
    let lostBeforeFlush: boolean | undefined;
    const { client, server } = await serverAndRawClient(
      loop,
      () =>
        new Recorder({
          onMade: (t) => {
            t.write(data);
            t.close();
            queuedAtClose = t.getWriteBufferSize();
            expect(t.isClosing()).toBe(true);
            expect(t.isReading()).toBe(false);
          },
        }),
    );
    // The client has not read yet: the queue is still there and connectionLost has not run.
    lostBeforeFlush = server().lostWith !== undefined;
    expect(queuedAtClose).toBeGreaterThan(0);
    expect(lostBeforeFlush).toBe(false);
    const got = await loop.runUntilComplete(readToEnd(loop, client, 50));
    expect(got.end).toBe('eof');
    expect(got.data.length).toBe(data.length);
    expect(got.data.equals(data)).toBe(true);
    expect(await loop.runUntilComplete(server().lost)).toBeNull();
    // Flow control goes on while closing (as in asyncio): the flush drained the queue.
    expect(server().events).toEqual(['made', 'pause', 'resume', 'lost']);
    expect(server().transport.getWriteBufferSize()).toBe(0);
  });

  test('close() with nothing queued closes at once; connectionLost(null) runs in a later iteration, once', async () => {
    const loop = openLoop(backend);
    const { client, server } = await serverAndRawClient(loop, () => new Recorder());
    const t = server().transport;
    t.close();
    t.close();
    expect(t.socket.closed).toBe(true);
    expect(server().lostWith).toBeUndefined(); // not called synchronously
    expect(await loop.runUntilComplete(server().lost)).toBeNull();
    const got = await loop.runUntilComplete(readToEnd(loop, client));
    expect(got).toEqual({ data: Buffer.alloc(0), end: 'eof' });
    await loop.runUntilComplete(sleep(5, loop));
    expect(server().events.filter((e) => e === 'lost')).toHaveLength(1);
  });

  test('abort() drops the queue: connectionLost(null), the peer sees the end before all the data', async () => {
    const loop = openLoop(backend, 10_000);
    const data = pattern(20 << 20, 12);
    const { client, server } = await serverAndRawClient(
      loop,
      () =>
        new Recorder({
          onMade: (t) => {
            t.write(data);
            t.abort();
            expect(t.getWriteBufferSize()).toBe(0);
            expect(t.isClosing()).toBe(true);
          },
        }),
    );
    const got = await loop.runUntilComplete(readToEnd(loop, client, 20));
    expect(['eof', 'ECONNRESET']).toContain(got.end);
    expect(got.data.length).toBeLessThan(data.length);
    expect(got.data.equals(data.subarray(0, got.data.length))).toBe(true); // a prefix, intact
    expect(await loop.runUntilComplete(server().lost)).toBeNull();
  });

  test('abort() during close() ends the flush at once; abort twice does nothing', async () => {
    const loop = openLoop(backend, 10_000);
    const data = pattern(20 << 20, 13);
    const { client, server } = await serverAndRawClient(loop, () => new Recorder());
    const t = server().transport;
    t.write(data);
    t.close();
    t.abort();
    t.abort();
    expect(t.socket.closed).toBe(true);
    const got = await loop.runUntilComplete(readToEnd(loop, client));
    expect(got.data.length).toBeLessThan(data.length);
    await loop.runUntilComplete(sleep(5, loop));
    expect(server().events).toEqual(['made', 'pause', 'lost']); // no resume: the queue was dropped
  });

  test('writeEof() half-closes after the queue is sent; the transport still reads', async () => {
    const loop = openLoop(backend, 10_000);
    const data = pattern(4 << 20, 14); // far more than the two small kernel buffers hold
    const { client, server } = await serverAndRawClient(loop, () => new Recorder({ keepOpenOnEof: true }));
    const t = server().transport;
    t.write(data);
    // The point of the test: the EOF is asked for while most of the data is still queued here.
    expect(t.getWriteBufferSize()).toBeGreaterThan(t.getWriteBufferLimits().high);
    t.writeEof();
    expect(t.canWriteEof()).toBe(true);
    expect(t.isClosing()).toBe(false);
    const got = await loop.runUntilComplete(readToEnd(loop, client));
    expect(got.end).toBe('eof');
    expect(got.data.equals(data)).toBe(true);
    // Reading goes on after our EOF.
    await loop.runUntilComplete(loop.sockSendAll(client, Buffer.from('still listening?')));
    await loop.runUntilComplete(sleep(20, loop));
    expect(server().data().toString()).toBe('still listening?');
    expectError(() => t.write('more'), Error, 'ERR_TRANSPORT_CLOSED');
    // Both directions are done; eofReceived kept the transport open, so it ends when we close it.
    client.shutdown('write');
    await loop.runUntilComplete(sleep(20, loop));
    expect(server().events).toEqual(['made', 'pause', 'resume', 'data', 'eof']);
    t.close();
    expect(await loop.runUntilComplete(server().lost)).toBeNull();
  });

  test('request/response over a half-close: eofReceived returning true keeps the transport writable', async () => {
    const loop = openLoop(backend);
    let serverRec!: Recorder;
    const srv = trackServer(
      await loop.createServer(
        () =>
          (serverRec = new Recorder({
            keepOpenOnEof: true,
            onEof: (t) => {
              // The whole request is in; answer it after the EOF, then close.
              t.write(`got ${serverRec.data().toString()}`);
              t.close();
            },
          })),
        { host: '127.0.0.1', port: 0 },
      ),
    );
    const [t, client] = await loop.runUntilComplete(connect(loop, () => new Recorder(), srv.address as ConnectOptions));
    t.write('request');
    t.writeEof();
    expect(await loop.runUntilComplete(client.lost)).toBeNull();
    expect(client.data().toString()).toBe('got request');
    // The client's eofReceived returned false: its transport closed itself after the EOF.
    expect(client.events).toEqual(['made', 'data', 'eof', 'lost']);
    await loop.runUntilComplete(serverRec.lost);
    expect(serverRec.events).toEqual(['made', 'data', 'eof', 'lost']);
  });

  test('eofReceived returning nothing closes the transport: connectionLost(null), later writes throw', async () => {
    const loop = openLoop(backend);
    const { client, server } = await serverAndRawClient(loop, () => new Recorder());
    client.shutdown('write');
    expect(await loop.runUntilComplete(server().lost)).toBeNull();
    expect(server().events).toEqual(['made', 'eof', 'lost']);
    expectError(() => server().transport.write('too late'), Error, 'ERR_TRANSPORT_CLOSED');
    const got = await loop.runUntilComplete(readToEnd(loop, client));
    expect(got.end).toBe('eof');
  });

  test('a reset by the peer ends the transport with connectionLost(err) carrying ECONNRESET', async () => {
    const loop = openLoop(backend);
    const l = track(Socket.tcp());
    l.bind({ host: '127.0.0.1', port: 0 });
    l.listen();
    const [[t, client], peer] = await loop.runUntilComplete(
      Promise.all([
        connect(loop, () => new Recorder(), l.localAddress as ConnectOptions),
        loop.sockAccept(l).then(track),
      ]),
    );
    t.write('unread by the peer');
    // The peer closes with that data unread in its receive queue: Linux answers with a RST.
    loop.addReader(peer, () => {
      loop.removeReader(peer);
      peer.close();
    });
    const err = await loop.runUntilComplete(client.lost);
    expect(err).toBeInstanceOf(Error);
    expect((err as { code?: string }).code).toBe('ECONNRESET');
    expect((err as { syscall?: string }).syscall).toBe('recv');
    expect(t.isClosing()).toBe(true);
    expect(t.socket.closed).toBe(true);
    expectError(() => t.write('x'), Error, 'ERR_TRANSPORT_CLOSED');
  });

  test('a write into a connection the peer already reset ends it with connectionLost(EPIPE or ECONNRESET)', async () => {
    const loop = openLoop(backend);
    const { client, server } = await serverAndRawClient(loop, () => new Recorder());
    const t = server().transport;
    t.pauseReading(); // so only the write path can notice
    t.write('unread by the client');
    await loop.runUntilComplete(sleep(5, loop));
    client.close(); // it closes with unread data: Linux sends a RST
    await loop.runUntilComplete(sleep(5, loop));
    t.write('into the void');
    const err = await loop.runUntilComplete(server().lost);
    expect(['EPIPE', 'ECONNRESET']).toContain((err as { code?: string }).code);
  });

  test('write() after close(), abort() or writeEof() throws ERR_TRANSPORT_CLOSED; bad data throws ERR_INVALID_ARG_TYPE', async () => {
    const loop = openLoop(backend);
    const { server } = await serverAndRawClient(loop, () => new Recorder());
    const t = server().transport;
    expectError(() => t.write(42 as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => t.write(null as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    t.write(''); // empty: fine, nothing sent
    t.writeEof();
    const err = expectError(() => t.write('x'), Error, 'ERR_TRANSPORT_CLOSED');
    expect(err.message).toMatch(/writeEof\(\), close\(\) or abort\(\)/);
    t.close();
    expectError(() => t.write(Buffer.from('x')), Error, 'ERR_TRANSPORT_CLOSED');
    t.abort();
    expectError(() => t.write(new Uint8Array(1)), Error, 'ERR_TRANSPORT_CLOSED');
  });

  test("closing the transport's raw socket behind its back unregisters the fd first", async () => {
    const loop = openLoop(backend);
    const { server } = await serverAndRawClient(loop, () => new Recorder());
    const t = server().transport;
    const fd = t.socket.fd;
    expect(loop.selector.getMap().has(fd)).toBe(true);
    t.socket.close();
    expect(loop.selector.getMap().has(fd)).toBe(false);
  });

  test('a hundred connections opened and ended every way leave no fd and no registration behind', async () => {
    const before = openFdCount();
    const loop = openLoop(backend, 10_000);
    const srv = trackServer(
      await loop.createServer(() => new Recorder({ onData: (d, t) => t.write(d) }), { host: '127.0.0.1', port: 0 }),
    );
    const ends: Array<(t: Transport) => void> = [
      (t) => t.close(),
      (t) => t.abort(),
      (t) => t.writeEof(),
      (t) => t.socket.close(),
    ];
    await loop.runUntilComplete(
      Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const [t, p] = await connect(
            loop,
            () => new Recorder({ keepOpenOnEof: false }),
            srv.address as ConnectOptions,
          );
          t.write(pattern(100_000, i));
          ends[i % ends.length](t);
          if (i % ends.length < 3) await p.lost;
        }),
      ),
    );
    srv.close();
    srv.abortConnections();
    await loop.runUntilComplete(srv.closed);
    await loop.run();
    expect(loop.selector.getMap().size).toBe(0);
    await cleanup();
    expect(openFdCount()).toBe(before);
  });
});

describe('after the loop is closed', () => {
  test('abort(), close() and closing the raw socket still release the fd instead of throwing ERR_LOOP_CLOSED', async () => {
    const loop = openLoop(backends[0]);
    const made: Transport[] = [];
    let allMade!: () => void;
    const threeMade = new Promise<void>((resolve) => (allMade = resolve));
    const onMade = (t: Transport) => {
      if (made.push(t) === 3) allMade();
    };
    const srv = trackServer(await loop.createServer(() => new Recorder({ onMade }), { host: '127.0.0.1', port: 0 }));
    const conns = await loop.runUntilComplete(
      Promise.all([0, 1, 2].map(() => connect(loop, () => new Recorder(), srv.address as ConnectOptions))),
    );
    // Every accepted transport is in `made` (a fixed sleep could end before connectionMade ran).
    await loop.runUntilComplete(threeMade);
    const before = openFdCount();
    loop.close(); // closes the loop with everything still open
    expect(() => conns[0][0].abort()).not.toThrow();
    expect(() => conns[1][0].close()).not.toThrow();
    expect(() => conns[2][0].socket.close()).not.toThrow();
    expect(() => srv.close()).not.toThrow();
    for (const t of made) expect(() => t.abort()).not.toThrow();
    expect(openFdCount()).toBe(before - 3 - 1 - made.length);
  });
});
