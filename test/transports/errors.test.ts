// Failures in the transport layer (STYLE principle 6: fail atomically, say exactly what was
// wrong): createConnection to a closed port rejects with ECONNREFUSED and leaks no fd; a factory
// that throws, bad options and refused registrations reject and leak nothing; createServer
// rejects (never throws) on bad arguments; setWriteBufferLimits checks its marks, and moving them
// pauses or resumes the protocol at once.
import { constants as osConstants } from 'node:os';
import { afterEach, describe, expect, test } from 'vitest';
import { native } from '../../src/native.js';
import { Socket } from '../../src/socket.js';
import type { ConnectOptions, Protocol, Transport } from '../../src/transports.js';
import { expectError } from '../helpers/fds.js';
import { backends, openLoop } from '../loop/helpers.js';
import { Recorder, closedPort, pattern, rejectionOf, track, trackServer, unixPath } from '../helpers/net.js';
import { cleanup, openFdCount } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

describe.each(backends)('%s loop: createConnection and createServer failures', (backend) => {
  test('createConnection to a closed port rejects with ECONNREFUSED and leaks no fd', async () => {
    const loop = openLoop(backend);
    const before = openFdCount();
    let made = 0;
    for (let i = 0; i < 50; i++) {
      const err = await loop.runUntilComplete(
        rejectionOf(loop.createConnection(() => (made++, new Recorder()), { host: '127.0.0.1', port: closedPort() })),
      );
      expect([err.code, err.errno, err.syscall]).toEqual(['ECONNREFUSED', -osConstants.errno.ECONNREFUSED, 'connect']);
    }
    expect(made).toBe(0); // no protocol for a connection that never was
    expect(openFdCount()).toBe(before);
    await loop.run();
    expect(loop.selector.getMap().size).toBe(0);
  });

  test('createConnection to a Unix path nobody listens on rejects with ENOENT and leaks no fd', async () => {
    const loop = openLoop(backend);
    const before = openFdCount();
    const err = await rejectionOf(loop.createConnection(() => new Recorder(), { path: unixPath() }));
    expect(err.code).toBe('ENOENT');
    expect(openFdCount()).toBe(before);
  });

  test('a factory that throws makes createConnection reject with its error, and the socket is closed', async () => {
    const loop = openLoop(backend);
    const srv = trackServer(await loop.createServer(() => new Recorder(), { host: '127.0.0.1', port: 0 }));
    const before = openFdCount();
    const err = await loop.runUntilComplete(
      rejectionOf(
        loop.createConnection(() => {
          throw new Error('no protocol today');
        }, srv.address as ConnectOptions),
      ),
    );
    expect(err.message).toBe('no protocol today');
    // The server side sees the EOF and closes too: waited for, not timed (a fixed 20 ms failed
    // under load and under ASan, where the server's read came later).
    await loop.runUntilComplete(
      (async () => {
        for (let i = 0; i < 500 && srv.connections.size > 0; i++) await sleep(5, loop);
      })(),
    );
    expect(srv.connections.size).toBe(0);
    expect(openFdCount()).toBe(before);
  });

  test('bad options and factories reject (never throw), with codes, and leak no fd', async () => {
    const loop = openLoop(backend);
    // The first name lookup opens the loop's wake pipe, which it keeps until close(): open it now.
    await loop.runUntilComplete(loop.getaddrinfo('localhost', 0));
    const before = openFdCount();
    const f = () => new Recorder();
    const cases: Array<[() => Promise<unknown>, string]> = [
      [() => loop.createConnection('not a function' as never, { host: '127.0.0.1', port: 1 }), 'ERR_INVALID_ARG_TYPE'],
      [() => loop.createConnection(f, null as never), 'ERR_INVALID_ARG_TYPE'],
      [() => loop.createConnection(f, { host: '127.0.0.1', port: 70000 }), 'ERR_INVALID_ARG_VALUE'],
      // Names resolve through getaddrinfo since DESIGN §6.4: an unknown one is ENOTFOUND.
      [() => loop.createConnection(f, { host: 'no-such-host.invalid', port: 80 }), 'ENOTFOUND'],
      [() => loop.createConnection(f, { host: 7 as never, port: 80 }), 'ERR_INVALID_ARG_TYPE'],
      [() => loop.createConnection(f, { path: 'a\0b' }), 'ERR_INVALID_ARG_VALUE'],
      [() => loop.createServer(undefined as never, { host: '127.0.0.1', port: 0 }), 'ERR_INVALID_ARG_TYPE'],
      [() => loop.createServer(f, 'port 80' as never), 'ERR_INVALID_ARG_TYPE'],
      [() => loop.createServer(f, { host: '127.0.0.1', port: -1 }), 'ERR_INVALID_ARG_VALUE'],
      [() => loop.createServer(f, { host: 'no-such-host.invalid', port: 0 }), 'ENOTFOUND'],
      [() => loop.createServer(f, { host: '127.0.0.1', port: 0, backlog: -3 }), 'ERR_INVALID_ARG_VALUE'],
      [() => loop.createServer(f, { path: 'x'.repeat(200) }), 'ERR_INVALID_ARG_VALUE'],
    ];
    for (const [call, code] of cases) {
      let p: Promise<unknown> | undefined;
      expect(() => void (p = call())).not.toThrow();
      expect((await loop.runUntilComplete(rejectionOf(p!))).code).toBe(code);
    }
    expect(openFdCount()).toBe(before);
  });

  test('createServer on a port in use rejects with EADDRINUSE (syscall bind) and leaks no fd', async () => {
    const loop = openLoop(backend);
    const taken = track(Socket.tcp());
    taken.bind({ host: '127.0.0.1', port: 0 });
    taken.listen();
    const before = openFdCount();
    const err = await rejectionOf(loop.createServer(() => new Recorder(), taken.localAddress));
    expect([err.code, err.syscall]).toEqual(['EADDRINUSE', 'bind']);
    expect(openFdCount()).toBe(before);
  });
});

describe.runIf(backends.includes('select'))('select loop: fds past FD_SETSIZE', () => {
  /** Opens placeholder fds until the next fd is >= FD_SETSIZE; returns them for closing. */
  function pushPastFdSetSize(): number[] {
    const fillers: number[] = [];
    for (;;) {
      const p = native.pipe();
      if (typeof p === 'number') throw new Error('pipe failed');
      fillers.push(...p);
      if (p[1] >= native.FD_SETSIZE - 1) return fillers;
    }
  }

  test('an accepted connection the selector cannot watch is closed and reported; the server goes on', async () => {
    const loop = openLoop('select');
    const errors: Array<{ code?: string }> = [];
    loop.setExceptionHandler((err) => void errors.push(err as { code?: string }));
    const srv = trackServer(await loop.createServer(() => new Recorder(), { host: '127.0.0.1', port: 0 }));
    const fillers = pushPastFdSetSize();
    try {
      const client = track(Socket.tcp()); // fd >= FD_SETSIZE; its server side will be too
      client.connect(srv.address);
      const before = openFdCount();
      await loop.runUntilComplete(sleep(50, loop));
      expect(errors.map((e) => e.code)).toEqual(['ERR_FD_OUT_OF_RANGE']);
      expect(srv.connections.size).toBe(0);
      expect(openFdCount()).toBe(before); // the accepted socket was closed, not leaked
      // Its client sees the connection end instead of hanging.
      let ended = false;
      for (let i = 0; i < 100 && !ended; i++) {
        try {
          ended = client.recvInto(Buffer.alloc(8)) === 0;
        } catch {
          ended = true;
        }
        if (!ended) await loop.runUntilComplete(sleep(5, loop));
      }
      expect(ended).toBe(true);
    } finally {
      for (const fd of fillers) native.close(fd);
    }
  });

  test('createConnection whose socket the selector cannot watch rejects with ERR_FD_OUT_OF_RANGE and leaks nothing', async () => {
    const loop = openLoop('select');
    const path = unixPath();
    const l = track(Socket.unix());
    l.bind({ path });
    l.listen();
    const fillers = pushPastFdSetSize();
    try {
      const before = openFdCount();
      // A Unix connect completes at once, so the failure comes from the Transport's registration.
      const err = await rejectionOf(loop.createConnection(() => new Recorder(), { path }));
      expect(err.code).toBe('ERR_FD_OUT_OF_RANGE');
      expect(openFdCount()).toBe(before);
    } finally {
      for (const fd of fillers) native.close(fd);
    }
  });
});

describe.each(backends)('%s loop: setWriteBufferLimits', (backend) => {
  async function transport(
    loop: ReturnType<typeof openLoop>,
    protocol: () => Protocol = () => new Recorder(),
  ): Promise<Transport> {
    const srv = trackServer(await loop.createServer(() => new Recorder(), { host: '127.0.0.1', port: 0 }));
    const [t] = await loop.runUntilComplete(loop.createConnection(protocol, srv.address as ConnectOptions));
    return t;
  }

  test("defaults are asyncio's: high 64 KiB, low 16 KiB; low defaults to high/4 and high to 4*low", async () => {
    const loop = openLoop(backend);
    const t = await transport(loop);
    expect(t.getWriteBufferLimits()).toEqual({ high: 65536, low: 16384 });
    t.setWriteBufferLimits({ high: 1000 });
    expect(t.getWriteBufferLimits()).toEqual({ high: 1000, low: 250 });
    t.setWriteBufferLimits({ low: 100 });
    expect(t.getWriteBufferLimits()).toEqual({ high: 400, low: 100 });
    t.setWriteBufferLimits({ high: 10, low: 10 });
    expect(t.getWriteBufferLimits()).toEqual({ high: 10, low: 10 });
    t.setWriteBufferLimits({ high: 0 });
    expect(t.getWriteBufferLimits()).toEqual({ high: 0, low: 0 });
    t.setWriteBufferLimits();
    expect(t.getWriteBufferLimits()).toEqual({ high: 65536, low: 16384 });
  });

  test('refuses bad marks with codes, and keeps the old ones', async () => {
    const loop = openLoop(backend);
    const t = await transport(loop);
    const cases: Array<[unknown, typeof TypeError | typeof RangeError, string, string]> = [
      [{ high: -1 }, RangeError, 'ERR_INVALID_ARG_VALUE', 'limits.high'],
      [{ high: 1.5 }, RangeError, 'ERR_INVALID_ARG_VALUE', 'limits.high'],
      [{ high: NaN }, RangeError, 'ERR_INVALID_ARG_VALUE', 'limits.high'],
      [{ low: -4 }, RangeError, 'ERR_INVALID_ARG_VALUE', 'limits.'],
      [{ high: 10, low: 20 }, RangeError, 'ERR_INVALID_ARG_VALUE', 'limits.low'],
      [{ high: '64k' }, TypeError, 'ERR_INVALID_ARG_TYPE', 'limits.high'],
      [{ low: true }, TypeError, 'ERR_INVALID_ARG_TYPE', 'limits.'],
      [null, TypeError, 'ERR_INVALID_ARG_TYPE', 'limits'],
      [5, TypeError, 'ERR_INVALID_ARG_TYPE', 'limits'],
    ];
    for (const [limits, Base, code, mentions] of cases) {
      const err = expectError(() => t.setWriteBufferLimits(limits as never), Base, code);
      expect(err.message).toContain(mentions);
    }
    expect(t.getWriteBufferLimits()).toEqual({ high: 65536, low: 16384 });
  });

  test('lowering high below what is queued pauses the protocol at once; raising it resumes it', async () => {
    const loop = openLoop(backend, 10_000);
    const t = await transport(loop, () => new Recorder());
    const rec = t.protocol as Recorder;
    t.setWriteBufferLimits({ high: 64 << 20 }); // no pause while we queue
    t.write(pattern(16 << 20, 3)); // the peer reads nothing: most of it stays queued
    const queued = t.getWriteBufferSize();
    expect(queued).toBeGreaterThan(1 << 20);
    expect(rec.events).not.toContain('pause');
    t.setWriteBufferLimits({ high: 1 << 20 });
    expect(rec.events.filter((e) => e === 'pause' || e === 'resume')).toEqual(['pause']);
    t.setWriteBufferLimits({ high: 64 << 20, low: 32 << 20 });
    expect(rec.events.filter((e) => e === 'pause' || e === 'resume')).toEqual(['pause', 'resume']);
    t.abort();
  });
});
