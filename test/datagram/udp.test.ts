// UDP (DESIGN §6.4): Socket.udp()/udp6() with sendTo/recvFrom, loop.sockSendTo/sockRecvFrom, and
// createDatagramEndpoint with DatagramProtocol/DatagramTransport. Datagram boundaries are kept;
// an ICMP port-unreachable reaches errorReceived as ECONNREFUSED on a connected endpoint, which
// stays open; close() ends with connectionLost(null); nothing leaks.
import { afterEach, describe, expect, test } from 'vitest';
import { cleanup, openFdCount } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';
import { Socket } from '../../src/socket.js';
import type { DatagramProtocol, DatagramTransport, HostPort } from '../../src/datagram.js';
import { expectError } from '../helpers/fds.js';
import { ipv6LoopbackAvailable, rejectionOf, track } from '../helpers/net.js';
import { inMode, modes } from '../helpers/modes.js';

afterEach(cleanup);

function boundUdp(six = false): Socket {
  const s = track(six ? Socket.udp6() : Socket.udp());
  s.bind({ host: six ? '::1' : '127.0.0.1', port: 0 });
  return s;
}

/** A UDP port nobody listens on (bound, read, then closed). */
function closedUdpPort(): number {
  const s = Socket.udp();
  s.bind({ host: '127.0.0.1', port: 0 });
  const { port } = s.localAddress as HostPort;
  s.close();
  return port;
}

describe('Socket.udp', () => {
  test.each([false, true])('sendTo/recvFrom keep datagram boundaries and name the sender (IPv6: %s)', (six) => {
    if (six && !ipv6LoopbackAvailable()) return;
    const a = boundUdp(six);
    const b = boundUdp(six);
    const buf = Buffer.alloc(2048);
    expect(b.recvFrom(buf)).toBeNull();
    const to = b.localAddress as HostPort;
    expect(a.sendTo('one', to)).toBe(3);
    expect(a.sendTo(Buffer.alloc(1000, 2), to)).toBe(1000);
    expect(a.sendTo(new Uint8Array(0), to)).toBe(0);
    expect(a.sendTo('three!', to)).toBe(6);
    const sizes: number[] = [];
    for (let got = b.recvFrom(buf); got !== null; got = b.recvFrom(buf)) {
      sizes.push(got.bytes);
      expect(got.address).toEqual(a.localAddress);
    }
    expect(sizes).toEqual([3, 1000, 0, 6]);
  });

  test('a connected UDP socket gets ECONNREFUSED after sending to a closed port; it stays usable', () => {
    const s = track(Socket.udp());
    s.connect({ host: '127.0.0.1', port: closedUdpPort() });
    s.send('anyone?');
    const buf = Buffer.alloc(16);
    let err: unknown;
    for (let i = 0; i < 1000 && err === undefined; i++) {
      try {
        s.recvFrom(buf);
      } catch (e) {
        err = e;
      }
    }
    expect((err as { code?: string }).code).toBe('ECONNREFUSED');
    expect(s.recvFrom(buf)).toBeNull();
  });

  test('bad arguments: data, address, buffer', () => {
    const s = boundUdp();
    expectError(
      () => s.sendTo(5 as unknown as string, { host: '127.0.0.1', port: 1 }),
      TypeError,
      'ERR_INVALID_ARG_TYPE',
    );
    expectError(() => s.sendTo('x', { host: '::1', port: 1 }), TypeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => s.recvFrom('x' as unknown as Uint8Array), TypeError, 'ERR_INVALID_ARG_TYPE');
  });
});

class Endpoint implements DatagramProtocol {
  transport!: DatagramTransport;
  readonly got: Array<[string, HostPort]> = [];
  readonly errors: string[] = [];
  readonly lost: Promise<Error | null>;
  #lost!: (e: Error | null) => void;
  #onDatagram: ((data: Buffer, from: HostPort) => void) | null;
  constructor(onDatagram: ((data: Buffer, from: HostPort) => void) | null = null) {
    this.#onDatagram = onDatagram;
    this.lost = new Promise((resolve) => {
      this.#lost = resolve;
    });
  }
  connectionMade(t: DatagramTransport): void {
    this.transport = t;
  }
  datagramReceived(data: Buffer, from: HostPort): void {
    this.got.push([data.toString(), from]);
    this.#onDatagram?.(data, from);
  }
  errorReceived(err: Error & { code?: string }): void {
    this.errors.push(err.code ?? err.message);
  }
  connectionLost(err: Error | null): void {
    this.#lost(err);
  }
}

describe.each(modes)('$name: UDP on the loop', (mode) => {
  test('sockSendTo / sockRecvFrom; a receive times out with ETIMEDOUT and a later one succeeds', async () => {
    const a = boundUdp();
    const b = boundUdp();
    await inMode(mode, async (loop) => {
      const buf = Buffer.alloc(64);
      expect((await rejectionOf(loop.sockRecvFrom(b, buf, { timeout: 10 }))).code).toBe('ETIMEDOUT');
      const waiting = loop.sockRecvFrom(b, buf, { timeout: 2000 });
      await loop.sockSendTo(a, 'ping', b.localAddress as HostPort);
      const got = await waiting;
      expect(buf.subarray(0, got.bytes).toString()).toBe('ping');
      expect(got.address).toEqual(a.localAddress);
    });
  });

  test('an echo endpoint and a connected client: every datagram comes back whole, in its own call', async () => {
    await inMode(mode, async (loop) => {
      const before = openFdCount();
      const [server] = await loop.createDatagramEndpoint(
        () => new Endpoint((data, from) => server.sendTo(data, from)),
        { local: { host: '127.0.0.1', port: 0 } },
      );
      const [client, proto] = await loop.createDatagramEndpoint(() => new Endpoint(), { remote: server.localAddress });
      const sizes = [1, 100, 1400, 9000, 0, 60000];
      for (const n of sizes) client.sendTo(Buffer.alloc(n, 'u'));
      for (let i = 0; i < 200 && proto.got.length < sizes.length; i++) await sleep(2, loop);
      expect(proto.got.map(([d]) => d.length)).toEqual(sizes);
      expect(proto.got[0][1]).toEqual(server.localAddress);
      expect(client.remoteAddress).toEqual(server.localAddress);
      expectError(() => client.sendTo('x', { host: '127.0.0.1', port: 9 }), RangeError, 'ERR_INVALID_ARG_VALUE');
      client.close();
      server.close();
      expect(await proto.lost).toBeNull();
      expect(openFdCount()).toBe(before);
    });
  });

  test('a connected endpoint gets ECONNREFUSED in errorReceived and stays open', async () => {
    await inMode(mode, async (loop) => {
      const [t, proto] = await loop.createDatagramEndpoint(() => new Endpoint(), {
        remote: { host: '127.0.0.1', port: closedUdpPort() },
      });
      for (let i = 0; i < 200 && proto.errors.length === 0; i++) {
        t.sendTo('hello?');
        await sleep(2, loop);
      }
      expect(proto.errors[0]).toBe('ECONNREFUSED');
      expect(t.isClosing()).toBe(false);
      t.close();
      expect(await proto.lost).toBeNull();
    });
  });

  test('createDatagramEndpoint takes reuseAddress and localhost; bad options are rejections', async () => {
    await inMode(mode, async (loop) => {
      const [t] = await loop.createDatagramEndpoint(() => new Endpoint(), {
        local: { host: 'localhost', port: 0 },
        reuseAddress: true,
      });
      expect(t.localAddress.host).toBe('127.0.0.1');
      t.abort();
      expect((await rejectionOf(loop.createDatagramEndpoint(() => new Endpoint(), {}))).code).toBe(
        'ERR_INVALID_ARG_VALUE',
      );
      expect(
        (await rejectionOf(loop.createDatagramEndpoint(5 as never, { local: { host: '127.0.0.1', port: 0 } }))).code,
      ).toBe('ERR_INVALID_ARG_TYPE');
      const unconnected = (
        await loop.createDatagramEndpoint(() => new Endpoint(), { local: { host: '127.0.0.1', port: 0 } })
      )[0];
      expectError(() => unconnected.sendTo('x'), TypeError, 'ERR_INVALID_ARG_TYPE');
      unconnected.close();
      expectError(() => unconnected.sendTo('x', { host: '127.0.0.1', port: 9 }), Error, 'ERR_TRANSPORT_CLOSED');
    });
  });
});

/** A UDP socket whose kernel buffer "is full" (sendTo/send return null) until `full` is cleared. */
class FullSocket extends Socket {
  full = true;
  override sendTo(data: Uint8Array | string, address: HostPort): number | null {
    return this.full ? null : super.sendTo(data, address);
  }
}

describe.each(modes)('$name: datagram write buffering', (mode) => {
  test('datagrams the kernel cannot take are queued whole: pauseWriting above 64 KiB, resumeWriting once sent', async () => {
    const { DatagramTransport } = await import('../../src/datagram.js');
    const { native } = await import('../../src/native.js');
    const receiver = boundUdp();
    const to = receiver.localAddress as HostPort;
    await inMode(mode, async (loop) => {
      const sock = new FullSocket(native.socket(native.constants.AF_INET, native.constants.SOCK_DGRAM), 'IPv4');
      const events: string[] = [];
      const proto: DatagramProtocol = {
        datagramReceived() {},
        pauseWriting: () => void events.push('pause'),
        resumeWriting: () => void events.push('resume'),
      };
      const t = new DatagramTransport(loop, sock, proto, null);
      for (let i = 0; i < 10; i++) t.sendTo(Buffer.alloc(10_000, i), to);
      expect(t.getWriteBufferSize()).toBe(100_000);
      expect(events).toEqual(['pause']);
      loop.callLater(5, () => {
        sock.full = false;
      });
      for (let i = 0; i < 100 && t.getWriteBufferSize() > 0; i++) await sleep(2, loop);
      expect(t.getWriteBufferSize()).toBe(0);
      expect(events).toEqual(['pause', 'resume']);
      const buf = Buffer.alloc(20_000);
      const firsts: number[] = [];
      for (let got = receiver.recvFrom(buf); got !== null; got = receiver.recvFrom(buf)) {
        expect(got.bytes).toBe(10_000);
        firsts.push(buf[0]);
      }
      expect(firsts).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      t.close();
    });
  });
});
