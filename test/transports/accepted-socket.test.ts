// Loop.connectAcceptedSocket() (asyncio's connect_accepted_socket): a connected stream socket
// made elsewhere becomes a Transport that owns it. Bad arguments leave the socket to the caller;
// once taken over, a failure closes it. Bytes the loop had already read for a cancelled aio read
// reach the protocol first, in order.
import { afterEach, describe, expect, test } from 'vitest';
import { Socket } from '../../src/socket.js';
import { native } from '../../src/native.js';
import { backends, openLoop } from '../loop/helpers.js';
import { Recorder, connectedPair, rejectionOf, track } from '../helpers/net.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

const noDelay = (s: Socket) => native.getsockopt(s.fd, native.constants.IPPROTO_TCP, native.constants.TCP_NODELAY);

describe.each(backends)('%s', (backend) => {
  describe.each([true, false])('batch: %s', (batch) => {
    test.each(['socketpair', 'tcp4', 'unix'] as const)(
      'a %s end: data both ways, EOF, then connectionLost(null) and the socket closed',
      async (kind) => {
        const loop = openLoop(backend, 5000, batch);
        const [peer, mine] = connectedPair(kind);
        const rec = new Recorder({ onData: (d, t) => t.write(Buffer.concat([Buffer.from('>'), d])) });
        const [transport, protocol] = await loop.connectAcceptedSocket(() => rec, mine);
        expect(protocol).toBe(rec);
        expect(transport.socket).toBe(mine);
        if (kind === 'tcp4') expect(noDelay(mine)).toBe(1);
        peer.send(Buffer.from('ping'));
        const echoed = await loop.runUntilComplete(loop.sockRecv(peer, 16));
        expect(echoed.toString()).toBe('>ping');
        peer.shutdown('write');
        expect(await loop.runUntilComplete(rec.lost)).toBeNull();
        expect(rec.events).toEqual(['made', 'data', 'eof', 'lost']);
        expect(mine.closed).toBe(true);
        expect((await loop.runUntilComplete(loop.sockRecv(peer, 16))).length).toBe(0);
      },
    );

    test('noDelay: false leaves TCP_NODELAY off', async () => {
      const loop = openLoop(backend, 5000, batch);
      const [, mine] = connectedPair('tcp4');
      const [t] = await loop.connectAcceptedSocket(() => new Recorder(), mine, { noDelay: false });
      expect(noDelay(mine)).toBe(0);
      t.abort();
    });
  });

  test('bytes the loop read for a cancelled aio read reach the protocol first, then the rest in order', async () => {
    const loop = openLoop(backend);
    const [peer, mine] = connectedPair('socketpair');
    const ac = new AbortController();
    const cancelled = loop.sockRecv(mine, 64, { signal: ac.signal }).catch((e: unknown) => (e as Error).name);
    peer.send(Buffer.from('first;'));
    // In the ready phase of the iteration whose native call read 'first;' (see try-first.test).
    loop.callSoon(() => ac.abort());
    expect(await loop.runUntilComplete(cancelled)).toBe('AbortError');
    const rec = new Recorder();
    await loop.connectAcceptedSocket(() => rec, mine);
    peer.send(Buffer.from('second;'));
    const deadline = loop.time() + 2000;
    while (rec.data().toString() !== 'first;second;' && loop.time() < deadline)
      await loop.runUntilComplete(sleep(2, loop));
    expect(rec.data().toString()).toBe('first;second;');
    expect(rec.events).toEqual(['made', 'data']);
  });
});

describe('bad input', () => {
  test('a factory that is not a function, or a sock that is not a Socket: TypeError, the socket untouched', async () => {
    const loop = openLoop('poll');
    const [, mine] = connectedPair('socketpair');
    for (const [factory, sock] of [
      [42, mine],
      [() => new Recorder(), 7],
      [() => new Recorder(), { fd: mine.fd }],
    ] as const) {
      const err = await rejectionOf(loop.connectAcceptedSocket(factory as never, sock as never));
      expect(err).toBeInstanceOf(TypeError);
      expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    }
    const err = await rejectionOf(loop.connectAcceptedSocket(() => new Recorder(), mine, { noDelay: 1 as never }));
    expect(err.code).toBe('ERR_INVALID_ARG_TYPE');
    expect(mine.closed).toBe(false);
  });

  test('a closed socket: ERR_SOCKET_CLOSED', async () => {
    const loop = openLoop('poll');
    const [, mine] = connectedPair('socketpair');
    mine.close();
    expect((await rejectionOf(loop.connectAcceptedSocket(() => new Recorder(), mine))).code).toBe('ERR_SOCKET_CLOSED');
  });

  test('a datagram socket: ERR_INVALID_ARG_VALUE; an unconnected stream socket: ENOTCONN; both stay open', async () => {
    const loop = openLoop('poll');
    const udp = track(Socket.udp());
    const udpErr = await rejectionOf(loop.connectAcceptedSocket(() => new Recorder(), udp));
    expect(udpErr.code).toBe('ERR_INVALID_ARG_VALUE');
    const tcp = track(Socket.tcp());
    const tcpErr = await rejectionOf(loop.connectAcceptedSocket(() => new Recorder(), tcp));
    expect([tcpErr.code, tcpErr.syscall]).toEqual(['ENOTCONN', 'getpeername']);
    expect([udp.closed, tcp.closed]).toEqual([false, false]);
  });

  test('a socket a transport already drives: ERR_INVALID_ARG_VALUE, and that transport goes on', async () => {
    const loop = openLoop('poll');
    const [peer, mine] = connectedPair('socketpair');
    const rec = new Recorder();
    await loop.connectAcceptedSocket(() => rec, mine);
    const err = await rejectionOf(loop.connectAcceptedSocket(() => new Recorder(), mine));
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
    peer.send(Buffer.from('still mine'));
    while (rec.received < 10) await loop.runUntilComplete(sleep(2, loop));
    expect(rec.data().toString()).toBe('still mine');
  });

  test('a socket an aio read waits on: ERR_INVALID_ARG_VALUE, and that read still completes', async () => {
    const loop = openLoop('poll');
    const [peer, mine] = connectedPair('socketpair');
    const waiting = loop.sockRecv(mine, 16);
    const err = await rejectionOf(loop.connectAcceptedSocket(() => new Recorder(), mine));
    expect(err.code).toBe('ERR_INVALID_ARG_VALUE');
    peer.send(Buffer.from('for the read'));
    expect((await loop.runUntilComplete(waiting)).toString()).toBe('for the read');
    expect(mine.closed).toBe(false);
  });

  test('a factory that throws: rejected with its error, and the socket is closed', async () => {
    const loop = openLoop('poll');
    const [peer, mine] = connectedPair('socketpair');
    const boom = new Error('boom');
    const err = await rejectionOf(
      loop.connectAcceptedSocket(() => {
        throw boom;
      }, mine),
    );
    expect(err).toBe(boom);
    expect(mine.closed).toBe(true);
    expect((await loop.runUntilComplete(loop.sockRecv(peer, 16))).length).toBe(0); // the peer sees EOF
  });

  test('a closed loop: ERR_LOOP_CLOSED, the socket stays open', async () => {
    const loop = openLoop('poll');
    loop.close();
    const [, mine] = connectedPair('socketpair');
    expect((await rejectionOf(loop.connectAcceptedSocket(() => new Recorder(), mine))).code).toBe('ERR_LOOP_CLOSED');
    expect(mine.closed).toBe(false);
  });
});
