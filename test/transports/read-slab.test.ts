// Zero-copy reads (src/read-slab.ts): dataReceived gets views into a shared slab, so the rules that
// make that safe are checked here: views never overlap, no byte is written twice, every read has
// room for a useful amount, and a protocol that keeps what it was handed (even while other
// connections of the same server read into the same slab) still holds exactly what was sent.
import { inspect } from 'node:util';
import { afterEach, describe, expect, test } from 'vitest';
import { ReadSlab } from '../../src/read-slab.js';
import { Socket } from '../../src/socket.js';
import { backends, openLoop } from '../loop/helpers.js';
import { Recorder, connectedPair, pattern, track, trackServer } from '../helpers/net.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

describe('ReadSlab', () => {
  test('views handed out never overlap, and a kept view is never written again', () => {
    const slab = new ReadSlab();
    const kept: Array<[Buffer, number]> = [];
    for (let i = 0; i < 200; i++) {
      const n = 1 + ((i * 7919) % slab.length);
      expect(slab.offset + n).toBeLessThanOrEqual(slab.buf.length);
      slab.buf.fill(i & 0xff, slab.offset, slab.offset + n); // what a recv would write
      kept.push([slab.take(n), i & 0xff]);
    }
    for (const [view, byte] of kept) expect(view.every((b) => b === byte)).toBe(true);
  });

  test('every read asks for between 16 KiB and 64 KiB, inside the current slab', () => {
    const slab = new ReadSlab();
    const first = slab.buf;
    for (let i = 0; i < 50; i++) {
      expect(slab.length).toBeGreaterThanOrEqual(16 * 1024);
      expect(slab.length).toBeLessThanOrEqual(64 * 1024);
      expect(slab.offset + slab.length).toBeLessThanOrEqual(slab.buf.length);
      slab.take(slab.length);
    }
    expect(slab.buf).not.toBe(first); // full reads used up the first slab and moved on
  });

  test('views start 8-byte aligned', () => {
    const slab = new ReadSlab();
    for (const n of [1, 3, 64, 1000, 9]) {
      const view = slab.take(n);
      expect(view.byteOffset % 8).toBe(0);
      expect(view.length).toBe(n);
    }
  });

  test('views are Buffers in every way a program can ask', () => {
    const slab = new ReadSlab();
    slab.buf.write('hello', slab.offset);
    const view = slab.take(5);
    expectPlainBuffer(view, 'hello');
  });
});

/** What a protocol may do with the data it is handed, as with any Buffer. */
function expectPlainBuffer(view: Buffer, text: string): void {
  expect(Buffer.isBuffer(view)).toBe(true);
  expect(view).toBeInstanceOf(Buffer);
  expect(view.constructor).toBe(Buffer);
  expect(view.toString()).toBe(text);
  expect(inspect(view)).toBe(inspect(Buffer.from(text)));
  expect(view.equals(Buffer.from(text))).toBe(true);
  const tail = view.subarray(1);
  expect([Buffer.isBuffer(tail), tail.toString()]).toEqual([true, text.slice(1)]);
  expect(Buffer.concat([view, view]).toString()).toBe(text + text);
  expect(view.toJSON()).toEqual(Buffer.from(text).toJSON());
}

describe.each(backends)('%s loop', (backend) => {
  test('two connections of one server keep every chunk they were handed intact', async () => {
    const loop = openLoop(backend);
    const got: Recorder[] = [];
    const srv = trackServer(
      await loop.createServer(
        () => {
          const r = new Recorder();
          got.push(r);
          return r;
        },
        { host: '127.0.0.1', port: 0 },
      ),
    );
    const clients = [track(Socket.tcp()), track(Socket.tcp())];
    for (const c of clients)
      await loop.runUntilComplete(loop.sockConnect(c, srv.address as { host: string; port: number }));
    await loop.runUntilComplete(sleep(5, loop));
    // Interleaved sends: reads of both connections alternate into the shared slab.
    const sent = [pattern(300_000, 1), pattern(300_000, 2)];
    const step = 5_000;
    for (let off = 0; off < sent[0].length; off += step) {
      for (let i = 0; i < 2; i++)
        await loop.runUntilComplete(loop.sockSendAll(clients[i], sent[i].subarray(off, off + step)));
      await loop.runUntilComplete(sleep(0, loop));
    }
    for (let tries = 0; tries < 200 && got.some((r) => r.received < 300_000); tries++)
      await loop.runUntilComplete(sleep(5, loop));
    expect(got).toHaveLength(2);
    // Which recorder belongs to which client: the first bytes say.
    for (const r of got) {
      const all = Buffer.concat(r.chunks);
      const i = all[0] === sent[0][0] && all.subarray(0, 64).equals(sent[0].subarray(0, 64)) ? 0 : 1;
      expect(all.equals(sent[i])).toBe(true);
      expect(r.chunks.length).toBeGreaterThan(1);
    }
  });

  test.each([true, false])('batch: %s: dataReceived is handed a Buffer in every way', async (batch) => {
    const loop = openLoop(backend, 5000, batch);
    const [peer, mine] = connectedPair('socketpair');
    const rec = new Recorder();
    await loop.connectAcceptedSocket(() => rec, mine);
    peer.send(Buffer.from('hello'));
    while (rec.received < 5) await loop.runUntilComplete(sleep(2, loop));
    expectPlainBuffer(rec.chunks[0], 'hello');
  });
});
