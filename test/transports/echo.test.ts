// Transports and protocols (DESIGN §3 "transports"; issue #3 item 3): an echo server made with
// createServer and clients made with createConnection, over IPv4, IPv6 and Unix sockets, on every
// backend. connectionMade comes first, every byte comes back in order, the server tracks its
// connections, and everything is gone (no fd, no registration) once the server and clients close.
import { afterEach, describe, expect, test } from 'vitest';
import { existsSync } from 'node:fs';
import type { Loop } from '../../src/loop.js';
import type { ConnectOptions, ListenOptions, Protocol, Transport } from '../../src/transports.js';
import { backends, openLoop } from '../loop/helpers.js';
import {
  Recorder,
  connect,
  ipv6LoopbackAvailable,
  randomInt,
  randomPayload,
  trackServer,
  unixPath,
} from '../helpers/net.js';
import { cleanup, openFdCount } from '../helpers/resources.js';

afterEach(cleanup);

const ipv6 = ipv6LoopbackAvailable();
if (!ipv6) console.warn('transports: IPv6 cases SKIPPED: IPv6 loopback ::1 cannot be bound on this machine');

/** The echo protocol of examples/echo-protocol.ts, written out here: pause reading on pauseWriting. */
class Echo implements Protocol {
  t!: Transport;
  connectionMade(t: Transport): void {
    this.t = t;
  }
  dataReceived(data: Buffer): void {
    this.t.write(data);
  }
  pauseWriting(): void {
    this.t.pauseReading();
  }
  resumeWriting(): void {
    this.t.resumeReading();
  }
}

type Family = 'tcp4' | 'tcp6' | 'unix';
const families = (['tcp4', 'tcp6', 'unix'] as Family[]).filter((f) => f !== 'tcp6' || ipv6);

function listenOptions(family: Family): ListenOptions {
  return family === 'unix' ? { path: unixPath() } : { host: family === 'tcp4' ? '127.0.0.1' : '::1', port: 0 };
}

function connectOptions(loopServer: { address: ListenOptions }): ConnectOptions {
  return loopServer.address;
}

/** Sends `payloads` one after another through a client transport, each once the previous came back. */
function echoSession(
  loop: Loop,
  opts: ConnectOptions,
  payloads: Buffer[],
): Promise<{ sent: Buffer; got: Buffer; rec: Recorder }> {
  return (async () => {
    let next = 0;
    let expected = 0;
    const sent = Buffer.concat(payloads);
    const [t, rec] = await connect(
      loop,
      () =>
        new Recorder({
          onData: (_d, tr) => {
            if (rec.received === expected && next < payloads.length) {
              expected += payloads[next].length;
              tr.write(payloads[next++]);
            } else if (rec.received === sent.length) {
              tr.close();
            }
          },
        }),
      opts,
    );
    expected = payloads[0].length;
    t.write(payloads[next++]);
    await rec.lost;
    return { sent, got: rec.data(), rec };
  })();
}

describe.each(backends)('%s loop', (backend) => {
  describe.each(families)('%s', (family) => {
    test('createServer + createConnection: 20 clients echo random payloads, every byte back in order', async () => {
      const before = openFdCount();
      const loop = openLoop(backend, 10_000);
      const opts = listenOptions(family);
      const server = trackServer(await loop.createServer(() => new Echo(), opts));
      expect(server.listening).toBe(true);
      if (family === 'unix') expect(server.address).toEqual({ path: opts.path });
      else expect((server.address as { port: number }).port).toBeGreaterThan(0);

      const sessions = Array.from({ length: 20 }, () =>
        echoSession(
          loop,
          connectOptions(server as never),
          Array.from({ length: 5 }, () => randomPayload(randomInt(1, 200_000))),
        ),
      );
      const results = await loop.runUntilComplete(Promise.all(sessions));
      for (const { sent, got, rec } of results) {
        expect(got.length).toBe(sent.length);
        expect(got.equals(sent)).toBe(true);
        expect(rec.events[0]).toBe('made');
        expect(rec.lostWith).toBeNull();
      }
      server.close();
      await loop.runUntilComplete(server.closed);
      expect(server.connections.size).toBe(0);
      if (family === 'unix') expect(existsSync(opts.path!)).toBe(false);
      await loop.run();
      expect(loop.selector.getMap().size).toBe(0);
      await cleanup();
      expect(openFdCount()).toBe(before);
    });
  });

  test('connectionMade runs before any dataReceived, on both sides, even when data is already waiting', async () => {
    const loop = openLoop(backend);
    const serverSide: Recorder[] = [];
    const server = trackServer(
      await loop.createServer(
        () => {
          const r = new Recorder({ onMade: (t) => t.write('hello from the server') });
          serverSide.push(r);
          return r;
        },
        { host: '127.0.0.1', port: 0 },
      ),
    );
    const [t, client] = await loop.runUntilComplete(
      connect(loop, () => new Recorder({ onData: (_d, tr) => tr.close() }), server.address as ConnectOptions),
    );
    t.write('hello from the client'); // written before the client's connectionMade ran
    await loop.runUntilComplete(client.lost);
    expect(client.events.slice(0, 2)).toEqual(['made', 'data']);
    expect(client.data().toString()).toBe('hello from the server');
    server.close();
    await loop.runUntilComplete(server.closed);
    expect(serverSide[0].events[0]).toBe('made');
    expect(serverSide[0].data().toString()).toBe('hello from the client');
  });

  test('each dataReceived gets a fresh Buffer the protocol may keep', async () => {
    const loop = openLoop(backend);
    const server = trackServer(await loop.createServer(() => new Echo(), { host: '127.0.0.1', port: 0 }));
    const payloads = Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000, 65 + (i % 26)));
    const { sent, got } = await loop.runUntilComplete(echoSession(loop, server.address as ConnectOptions, payloads));
    expect(got.equals(sent)).toBe(true); // had chunks shared one buffer, earlier ones would be overwritten
  });

  test('the transport reports its socket, protocol and addresses; the server its connections', async () => {
    const loop = openLoop(backend);
    const made: Transport[] = [];
    const server = trackServer(
      await loop.createServer(() => new Recorder({ onMade: (t) => void made.push(t) }), { host: '127.0.0.1', port: 0 }),
    );
    const [t, p] = await loop.runUntilComplete(connect(loop, () => new Recorder(), server.address as ConnectOptions));
    await loop.runUntilComplete(new Promise<void>((resolve) => loop.callLater(20, resolve)));
    expect(t.protocol).toBe(p);
    expect(t.remoteAddress).toEqual(server.address);
    expect(made).toHaveLength(1);
    expect(server.connections.has(made[0])).toBe(true);
    expect(made[0].remoteAddress).toEqual(t.localAddress);
    expect(t.socket.fd).toBeGreaterThanOrEqual(0);
    expect(t.isClosing()).toBe(false);
    expect(t.isReading()).toBe(true);
    t.close();
    await loop.runUntilComplete(p.lost);
  });
});
