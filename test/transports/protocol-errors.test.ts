// A Protocol callback that throws (issue 9, bug 1). asyncio's rule, applied at every call site:
// the error goes to the loop's exception handler, then the transport is closed at once (its queue
// dropped, the peer sees FIN, the fd released) and connectionLost(err) reports the error. Before
// this, a throwing eofReceived left a transport that neither read nor closed: the peer never got
// EOF and the fd stayed open. The server's other connections and the loop go on every time.
import { afterEach, describe, expect, test } from 'vitest';
import type { ExceptionContext, Loop } from '../../src/loop.js';
import { Socket } from '../../src/socket.js';
import type { Protocol, Server, Transport } from '../../src/transports.js';

import { backends, openLoop } from '../loop/helpers.js';
import { Recorder, pattern, track, trackServer } from '../helpers/net.js';
import { cleanup, openFdCount } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

type Site = 'connectionMade' | 'dataReceived' | 'eofReceived' | 'pauseWriting' | 'resumeWriting';

/** Echoes, except that `site` throws `boom` on the connection whose first byte is '!'. */
function faultyEcho(site: Site, boom: Error, lost: Array<Error | null>): () => Protocol {
  return () => {
    let t!: Transport;
    let faulty = false;
    const maybeThrow = (here: Site) => {
      if (faulty && here === site) throw boom;
    };
    return {
      connectionMade(transport) {
        t = transport;
        // connectionMade cannot see the first byte: its test has a server of its own.
        if (site === 'connectionMade') throw boom;
      },
      dataReceived(data) {
        if (data[0] === 0x21 /* ! */) faulty = true;
        maybeThrow('dataReceived');
        if (faulty && (site === 'pauseWriting' || site === 'resumeWriting')) {
          // Into a peer that does not read yet, until the queue passes the high-water mark
          // (the kernel's buffers take MiBs first): pauseWriting.
          const chunk = pattern(64 * 1024, 3);
          for (let i = 0; i < 1024 && !t.isClosing() && t.getWriteBufferSize() <= t.getWriteBufferLimits().high; i++) {
            t.write(chunk);
          }
          return;
        }
        t.write(data);
      },
      eofReceived() {
        maybeThrow('eofReceived');
      },
      pauseWriting() {
        maybeThrow('pauseWriting');
      },
      resumeWriting() {
        maybeThrow('resumeWriting');
      },
      connectionLost(err) {
        lost.push(err);
      },
    };
  };
}

async function connectRaw(loop: Loop, srv: Server): Promise<Socket> {
  const sock = track(Socket.tcp());
  await loop.runUntilComplete(loop.sockConnect(sock, srv.address as { host: string; port: number }));
  return sock;
}

/** Reads until EOF (resolves with the byte count) or an error (rejects). */
async function readToEof(loop: Loop, sock: Socket): Promise<number> {
  let total = 0;
  for (;;) {
    const chunk = await loop.sockRecv(sock, 1 << 20);
    if (chunk.length === 0) return total;
    total += chunk.length;
  }
}

/** Sends `msg` on `sock` and expects it back in full. */
async function expectEcho(loop: Loop, sock: Socket, msg: Buffer): Promise<void> {
  await loop.sockSendAll(sock, msg);
  const parts: Buffer[] = [];
  let got = 0;
  while (got < msg.length) {
    const chunk = await loop.sockRecv(sock, msg.length - got);
    if (chunk.length === 0) throw new Error('EOF before the whole echo came back');
    parts.push(chunk);
    got += chunk.length;
  }
  expect(Buffer.concat(parts).equals(msg)).toBe(true);
}

describe.each(backends)('%s loop: a protocol callback that throws', (backend) => {
  const sites: Array<[Site, (loop: Loop, sock: Socket) => Promise<void>]> = [
    ['dataReceived', (loop, sock) => loop.sockSendAll(sock, Buffer.from('!boom'))],
    [
      'eofReceived',
      async (loop, sock) => {
        await expectEcho(loop, sock, Buffer.from('!first'));
        sock.shutdown('write');
      },
    ],
    ['pauseWriting', (loop, sock) => loop.sockSendAll(sock, Buffer.from('!flood'))],
    [
      'resumeWriting',
      async (loop, sock) => {
        await loop.sockSendAll(sock, Buffer.from('!flood'));
        await sleep(20, loop); // the server's queue is over the mark now: reading lets it drain
      },
    ],
  ];

  test.each(sites)(
    '%s: reported, then the transport closes; the peer gets EOF, the fd is released, other connections go on',
    async (site, provoke) => {
      const loop = openLoop(backend, 10_000);
      const reported: Array<[unknown, ExceptionContext]> = [];
      loop.setExceptionHandler((err, ctx) => void reported.push([err, ctx]));
      const boom = new Error(`${site} failed`);
      const lost: Array<Error | null> = [];
      const srv = trackServer(await loop.createServer(faultyEcho(site, boom, lost), { host: '127.0.0.1', port: 0 }));
      const bystander = await connectRaw(loop, srv);
      await loop.runUntilComplete(expectEcho(loop, bystander, Buffer.from('before')));
      const before = openFdCount();

      const victim = await connectRaw(loop, srv);
      await loop.runUntilComplete(provoke(loop, victim));
      // The server closes its end: the client reads to a clean EOF (FIN), never hangs.
      await loop.runUntilComplete(readToEof(loop, victim));
      // connectionLost comes from a callback queued by the close, and the client may read the FIN
      // in the same iteration: one more turn of the ready queue runs it.
      await loop.runUntilComplete(new Promise<void>((resolve) => loop.callSoon(resolve)));
      expect(reported.map(([err]) => err)).toEqual([boom]);
      expect(reported[0][1].message).toContain(`protocol.${site}()`);
      expect(lost).toEqual([boom]);
      expect(srv.connections.size).toBe(1);
      victim.close();
      expect(openFdCount()).toBe(before);

      // The loop and the other connection go on, byte for byte.
      await loop.runUntilComplete(expectEcho(loop, bystander, pattern(256 * 1024, 7)));
      bystander.close();
      srv.close();
      await loop.runUntilComplete(srv.closed);
    },
  );

  test('connectionMade: reported, then the transport closes; the peer gets EOF and the server goes on', async () => {
    const loop = openLoop(backend);
    const reported: unknown[] = [];
    loop.setExceptionHandler((err) => void reported.push(err));
    const boom = new Error('connectionMade failed');
    const lost: Array<Error | null> = [];
    const bad = trackServer(
      await loop.createServer(faultyEcho('connectionMade', boom, lost), { host: '127.0.0.1', port: 0 }),
    );
    const good = trackServer(
      await loop.createServer(() => new Recorder({ onData: (d, t) => t.write(d) }), { host: '127.0.0.1', port: 0 }),
    );
    const bystander = await connectRaw(loop, good);
    const before = openFdCount();
    const victim = await connectRaw(loop, bad);
    expect(await loop.runUntilComplete(readToEof(loop, victim))).toBe(0);
    expect(reported).toEqual([boom]);
    expect(lost).toEqual([boom]);
    expect(bad.connections.size).toBe(0);
    victim.close();
    expect(openFdCount()).toBe(before);
    await loop.runUntilComplete(expectEcho(loop, bystander, Buffer.from('still here')));
  });

  test('connectionLost: reported; the fd is released and the server still counts the connection gone', async () => {
    const loop = openLoop(backend);
    const reported: unknown[] = [];
    loop.setExceptionHandler((err) => void reported.push(err));
    const boom = new Error('connectionLost failed');
    const srv = trackServer(
      await loop.createServer(
        () => ({
          connectionLost() {
            throw boom;
          },
        }),
        { host: '127.0.0.1', port: 0 },
      ),
    );
    const before = openFdCount();
    const victim = await connectRaw(loop, srv);
    victim.shutdown('write');
    expect(await loop.runUntilComplete(readToEof(loop, victim))).toBe(0);
    await loop.runUntilComplete(sleep(5, loop));
    expect(reported).toEqual([boom]);
    expect(srv.connections.size).toBe(0);
    victim.close();
    expect(openFdCount()).toBe(before);
    srv.close();
    await loop.runUntilComplete(srv.closed);
  });

  test('the server factory: reported; that client gets EOF, the next one is served', async () => {
    const loop = openLoop(backend);
    const reported: unknown[] = [];
    loop.setExceptionHandler((err) => void reported.push(err));
    const boom = new Error('factory failed');
    let n = 0;
    const srv = trackServer(
      await loop.createServer(
        () => {
          if (n++ === 0) throw boom;
          return new Recorder({ onData: (d, t) => t.write(d) });
        },
        { host: '127.0.0.1', port: 0 },
      ),
    );
    const before = openFdCount();
    const victim = await connectRaw(loop, srv);
    expect(await loop.runUntilComplete(readToEof(loop, victim))).toBe(0);
    expect(reported).toEqual([boom]);
    victim.close();
    expect(openFdCount()).toBe(before);
    const next = await connectRaw(loop, srv);
    await loop.runUntilComplete(expectEcho(loop, next, Buffer.from('served')));
  });
});
