// Fault matrix (issue 9, proof 5): what the peer does to a connection. A reset in the middle of
// a large write, half-closes in both directions, and writes into a connection the peer has
// closed (EPIPE: an error, never a SIGPIPE that kills the process). Each beside a bystander
// connection that must not lose a byte, and each ending with the fd count at its baseline.
import { afterEach, describe, expect, test } from 'vitest';
import type { Loop } from '../../src/loop.js';
import { Socket } from '../../src/socket.js';
import type { Transport } from '../../src/transports.js';
import { backends, openLoop } from '../loop/helpers.js';
import { Recorder, pattern, rejectionOf, track, trackServer } from '../helpers/net.js';
import { withBystander } from './harness.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

/** A server of `make`'s Recorders and a raw client connected to it (connectionMade has run). */
async function rawClientOf(
  loop: Loop,
  make: () => Recorder,
): Promise<{ client: Socket; server: () => Recorder; close: () => void }> {
  let last: Recorder | undefined;
  const srv = trackServer(await loop.createServer(() => (last = make()), { host: '127.0.0.1', port: 0 }));
  const client = track(Socket.tcp());
  await loop.sockConnect(client, srv.address);
  while (last === undefined || last.events.length === 0) await sleep(1, loop);
  return { client, server: () => last!, close: () => srv.close() };
}

/** Reads until EOF; resolves with everything read. */
async function readAll(loop: Loop, sock: Socket): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (;;) {
    const chunk = await loop.sockRecv(sock, 1 << 20);
    if (chunk.length === 0) return Buffer.concat(parts);
    parts.push(chunk);
  }
}

describe.each(backends)('%s loop: faults from the peer', (backend) => {
  const open = () => openLoop(backend, 15_000);

  test('a reset in the middle of an 8 MiB transport write ends that transport with ECONNRESET or EPIPE', async () => {
    await withBystander(open, async (loop) => {
      const { client, server, close } = await rawClientOf(
        loop,
        () => new Recorder({ onMade: (t) => t.write(pattern(8 << 20, 1)) }),
      );
      await sleep(5, loop);
      expect(server().transport.getWriteBufferSize()).toBeGreaterThan(0); // mid-write
      client.send(Buffer.from('unread')); // so the server side has something to answer with a RST too
      client.close(); // closes with 8 MiB unread: the kernel sends a RST
      const err = await server().lost;
      expect(['ECONNRESET', 'EPIPE']).toContain((err as { code?: string } | null)?.code);
      close();
    });
  });

  test('a reset in the middle of a sockSendAll rejects it with ECONNRESET or EPIPE', async () => {
    await withBystander(open, async (loop) => {
      const l = track(Socket.tcp());
      l.bind({ host: '127.0.0.1', port: 0 });
      l.listen();
      const a = track(Socket.tcp());
      const [, b] = await Promise.all([loop.sockConnect(a, l.localAddress), loop.sockAccept(l).then(track)]);
      const sending = rejectionOf(loop.sockSendAll(a, pattern(16 << 20, 2)));
      await sleep(5, loop);
      b.close(); // unread data: RST
      expect(['ECONNRESET', 'EPIPE']).toContain((await sending).code);
      a.close();
      l.close();
    });
  });

  test('half-close by the client: the server still sends everything it owes, then closes', async () => {
    await withBystander(open, async (loop) => {
      const reply = pattern(2 << 20, 3);
      const { client, server, close } = await rawClientOf(
        loop,
        () =>
          new Recorder({
            keepOpenOnEof: true,
            onEof: (t) => {
              t.write(reply);
              t.close(); // flushes, then closes
            },
          }),
      );
      await loop.sockSendAll(client, Buffer.from('request'));
      client.shutdown('write');
      const got = await readAll(loop, client);
      expect(got.equals(reply)).toBe(true);
      expect(await server().lost).toBeNull();
      expect(server().data().toString()).toBe('request');
      client.close();
      close();
    });
  });

  test('half-close by the server: writeEof() after the reply; the client reads EOF and may still send', async () => {
    await withBystander(open, async (loop) => {
      const reply = pattern(1 << 20, 4);
      let t!: Transport;
      const { client, server, close } = await rawClientOf(
        loop,
        () =>
          new Recorder({
            onMade: (tr) => {
              t = tr;
              tr.write(reply);
              tr.writeEof();
            },
          }),
      );
      const got = await readAll(loop, client);
      expect(got.equals(reply)).toBe(true);
      // The server's read side is still open: it receives what the client sends after the EOF.
      const late = pattern(300 * 1024, 5);
      await loop.sockSendAll(client, late);
      while (server().received < late.length) await sleep(1, loop);
      expect(server().data().equals(late)).toBe(true);
      expect(t.isClosing()).toBe(false);
      client.close();
      expect(await server().lost).toBeNull();
      close();
    });
  });

  test('EPIPE: writing into a connection the peer has closed is an error, not a SIGPIPE', async () => {
    await withBystander(open, async (loop) => {
      const [a, b] = await (async () => {
        const l = track(Socket.tcp());
        l.bind({ host: '127.0.0.1', port: 0 });
        l.listen();
        const c = track(Socket.tcp());
        const [, s] = await Promise.all([loop.sockConnect(c, l.localAddress), loop.sockAccept(l).then(track)]);
        l.close();
        return [c, s];
      })();
      b.close(); // nothing unread: a FIN
      await sleep(5, loop);
      // The first send after the FIN is accepted by the kernel and answered with a RST; the next
      // one fails. Either way the process is still here (MSG_NOSIGNAL).
      let code: string | undefined;
      for (let i = 0; i < 20 && code === undefined; i++) {
        try {
          await loop.sockSendAll(a, Buffer.from('anyone there?'));
          await sleep(2, loop);
        } catch (err) {
          code = (err as { code?: string }).code;
        }
      }
      expect(['EPIPE', 'ECONNRESET']).toContain(code);
      // The same through a transport: connectionLost carries the error.
      const { client, server, close } = await rawClientOf(loop, () => new Recorder());
      client.close();
      await sleep(5, loop);
      const t = server().transport;
      for (let i = 0; i < 20 && !t.isClosing(); i++) {
        t.write('into the void');
        await sleep(2, loop);
      }
      const err = await server().lost;
      // The read side may see the FIN first: then the transport closes cleanly (null).
      expect([null, 'EPIPE', 'ECONNRESET']).toContain(err === null ? null : (err as { code?: string }).code);
      a.close();
      close();
    });
  });
});
