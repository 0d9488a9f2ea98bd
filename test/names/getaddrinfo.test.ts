// Names (DESIGN §6.4): loop.getaddrinfo() runs getaddrinfo(3) on a native helper thread and
// completes through the loop's wake-up pipe, owned or attached. Unknown names reject with
// ENOTFOUND; a signal cancels (a running lookup finishes on its thread and is ignored); loop
// close rejects what is pending. sockConnect, createConnection, createServer and
// createDatagramEndpoint take names. Only localhost and names from the hosts file: no network.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { cleanup, openFdCount } from '../helpers/resources.js';
import { Loop } from '../../src/loop.js';
import { Socket } from '../../src/socket.js';
import type { DatagramProtocol } from '../../src/datagram.js';
import { INDEX, runProgram } from '../helpers/program.js';
import { Recorder, closedPort, listener, rejectionOf, track, trackServer } from '../helpers/net.js';
import { inMode, modes } from '../helpers/modes.js';
import { backends, openLoop } from '../loop/helpers.js';

afterEach(cleanup);

/** A name other than localhost that the hosts file maps to an IPv4 loopback address, if any. */
function hostsFileName(): [name: string, address: string] | null {
  for (const line of readFileSync('/etc/hosts', 'utf8').split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    if (!address?.startsWith('127.')) continue;
    const name = names.find((n) => n !== 'localhost' && !n.startsWith('localhost.'));
    if (name !== undefined) return [name, address];
  }
  return null;
}

const UNKNOWN = 'no-such-host.invalid';

describe.each(modes)('$name: getaddrinfo', (mode) => {
  test('localhost resolves to 127.0.0.1 (family 4), with the port', async () => {
    const found = await inMode(mode, (loop) => loop.getaddrinfo('localhost', 8080, { family: 4 }));
    expect(found).toContainEqual({ family: 4, host: '127.0.0.1', port: 8080 });
    expect(found.every((a) => a.family === 4)).toBe(true);
  });

  test('a name from the hosts file resolves as the system is configured', async () => {
    const entry = hostsFileName();
    if (entry === null) return; // nothing but localhost there: covered above
    const found = await inMode(mode, (loop) => loop.getaddrinfo(entry[0], 0, { family: 4 }));
    expect(found.map((a) => a.host)).toContain(entry[1]);
  });

  test('an unknown name rejects with ENOTFOUND, syscall getaddrinfo, hostname', async () => {
    const err = await inMode(mode, (loop) => rejectionOf(loop.getaddrinfo(UNKNOWN, 80)), 15_000);
    expect(err.code).toBe('ENOTFOUND');
    expect(err.syscall).toBe('getaddrinfo');
    expect((err as { hostname?: string }).hostname).toBe(UNKNOWN);
    expect(err.message).toBe(`getaddrinfo ENOTFOUND ${UNKNOWN}`);
  });

  test('twenty lookups at once all complete (the pool runs them four at a time)', async () => {
    const all = await inMode(mode, (loop) =>
      Promise.all(Array.from({ length: 20 }, (_, i) => loop.getaddrinfo('localhost', i, { family: 4 }))),
    );
    expect(all.map((found) => found[0].port)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  test('abort: an aborted signal rejects at once; aborting a running lookup ignores its result', async () => {
    await inMode(mode, async (loop) => {
      const early = await rejectionOf(loop.getaddrinfo('localhost', 1, { signal: AbortSignal.abort('no') }));
      expect(early.code).toBe('ABORT_ERR');
      const ac = new AbortController();
      const p = loop.getaddrinfo('localhost', 1, { signal: ac.signal });
      ac.abort('changed my mind');
      const err = await rejectionOf(p);
      expect(err.code).toBe('ABORT_ERR');
      expect(err.cause).toBe('changed my mind');
      // The loop still works for the next lookup, and nothing pending is left behind.
      expect((await loop.getaddrinfo('localhost', 2, { family: 4 }))[0].port).toBe(2);
    });
  });

  test('names in sockConnect, createConnection, createServer and createDatagramEndpoint', async () => {
    const entry = hostsFileName();
    const name = entry?.[0] ?? 'localhost';
    await inMode(
      mode,
      async (loop) => {
        const l = listener('tcp4');
        const { port } = l.localAddress as { port: number };
        const c = track(Socket.tcp());
        await loop.sockConnect(c, { host: name, port }, { timeout: 5000 });
        track(await loop.sockAccept(l));

        const server = trackServer(await loop.createServer(() => new Recorder(), { host: name, port: 0 }));
        expect((server.address as { host: string }).host).toMatch(/^127\./);
        const [t] = await loop.createConnection(() => new Recorder(), {
          host: name,
          port: (server.address as { port: number }).port,
        });
        t.close();

        const [d] = await loop.createDatagramEndpoint((): DatagramProtocol => ({ datagramReceived() {} }), {
          local: { host: name, port: 0 },
          remote: { host: name, port: 9 },
        });
        expect(d.localAddress.host).toMatch(/^127\./);
        d.close();

        const refused = await rejectionOf(
          loop.createConnection(() => new Recorder(), { host: name, port: closedPort() }),
        );
        expect(refused.code).toBe('ECONNREFUSED');
        expect((await rejectionOf(loop.createConnection(() => new Recorder(), { host: UNKNOWN, port: 1 }))).code).toBe(
          'ENOTFOUND',
        );
      },
      15_000,
    );
  });
});

// The hosts file gives one address a name, so a name with several addresses is stood in for by
// replacing this loop's getaddrinfo: 127.0.0.2 is loopback too, but nothing listens there.
describe.each(modes)('$name: a name with several addresses', (mode) => {
  const twoAddresses = (loop: Loop, hosts: string[]): void => {
    loop.getaddrinfo = (_host, port) => Promise.resolve(hosts.map((host) => ({ family: 4 as const, host, port })));
  };

  test('createConnection and openConnection try each address in order: a refused first one, then the one that listens', async () => {
    await inMode(mode, async (loop) => {
      const server = trackServer(await loop.createServer(() => new Recorder(), { host: '127.0.0.1', port: 0 }));
      const { port } = server.address as { port: number };
      twoAddresses(loop, ['127.0.0.2', '127.0.0.1']);
      const [t] = await loop.createConnection(() => new Recorder(), { host: 'two.test', port });
      expect((t.socket.remoteAddress as { host: string }).host).toBe('127.0.0.1');
      t.close();
      const [, writer] = await loop.openConnection({ host: 'two.test', port });
      writer.close();
      await writer.waitClosed();
    });
  });

  test('every address refused: the last error is the one reported, and no socket is left open', async () => {
    await inMode(mode, async (loop) => {
      const port = closedPort();
      twoAddresses(loop, ['127.0.0.2', '127.0.0.3']);
      const before = openFdCount();
      const err = await rejectionOf(loop.createConnection(() => new Recorder(), { host: 'two.test', port }));
      expect(err.code).toBe('ECONNREFUSED');
      expect(openFdCount()).toBe(before);
    });
  });

  test('sockConnect tries the first address only: a socket whose connect failed cannot be reused', async () => {
    await inMode(mode, async (loop) => {
      const l = listener('tcp4');
      const { port } = l.localAddress as { port: number };
      twoAddresses(loop, ['127.0.0.1', '127.0.0.2']);
      const c = track(Socket.tcp());
      await loop.sockConnect(c, { host: 'two.test', port }, { timeout: 5000 });
      expect((c.remoteAddress as { host: string }).host).toBe('127.0.0.1');
      track(await loop.sockAccept(l));

      twoAddresses(loop, ['127.0.0.2', '127.0.0.1']);
      const refused = track(Socket.tcp());
      expect((await rejectionOf(loop.sockConnect(refused, { host: 'two.test', port }))).code).toBe('ECONNREFUSED');
    });
  });
});

describe.each(backends)('%s loop: getaddrinfo and close()', (backend) => {
  test('close() rejects a pending lookup with ERR_LOOP_CLOSED and releases the wake pipe', async () => {
    const before = openFdCount();
    const loop = new Loop({ backend });
    const p = rejectionOf(loop.getaddrinfo('localhost', 1));
    loop.close();
    expect((await p).code).toBe('ERR_LOOP_CLOSED');
    expect(openFdCount()).toBe(before);
    expect((await rejectionOf(loop.getaddrinfo('localhost', 1))).code).toBe('ERR_LOOP_CLOSED');
  });

  test('a finished lookup leaves nothing that keeps run() alive', async () => {
    const loop = openLoop(backend, 3000);
    await loop.runUntilComplete(loop.getaddrinfo('localhost', 1));
    await loop.run(); // would wait until the test deadline if a keep-alive timer were left
    expect(loop.isRunning()).toBe(false);
  });

  test('bad arguments are rejections with codes', async () => {
    const loop = openLoop(backend);
    expect((await rejectionOf(loop.getaddrinfo(5 as never, 1))).code).toBe('ERR_INVALID_ARG_TYPE');
    expect((await rejectionOf(loop.getaddrinfo('', 1))).code).toBe('ERR_INVALID_ARG_VALUE');
    expect((await rejectionOf(loop.getaddrinfo('localhost', 70000))).code).toBe('ERR_INVALID_ARG_VALUE');
    expect((await rejectionOf(loop.getaddrinfo('localhost', 1, { family: 5 as never }))).code).toBe(
      'ERR_INVALID_ARG_VALUE',
    );
  });
});

describe('getaddrinfo: the process exits by itself', () => {
  // Regression: the helper threads wait on a condition variable for the life of the process; when
  // it was a static object, its destructor at exit() blocked on those waiters and the process hung.
  test.each([
    ['owned (run())', false],
    ['attached (epoll)', true],
  ] as const)(
    '%s: a program that did a lookup exits',
    async (_name, attached) => {
      if (attached && !backends.includes('epoll')) return;
      const { exit, out } = await runProgram(`
      import { Loop } from ${JSON.stringify(INDEX)};
      const loop = new Loop(${attached ? "{ backend: 'epoll' }" : ''});
      ${attached ? 'loop.attach();' : ''}
      const p = loop.getaddrinfo('localhost', 1, { family: 4 });
      const found = ${attached ? 'await p' : 'await loop.runUntilComplete(p)'};
      console.log(found[0].host);`);
      expect(exit).toBe(0);
      expect(out.trim()).toBe('127.0.0.1');
    },
    15_000,
  );
});
