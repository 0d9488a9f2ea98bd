// Write buffering and backpressure (src/transports.ts header; asyncio's flow control): write()
// sends what the kernel takes and queues only the rest (a partial write); the queue grows while
// the peer does not read; pauseWriting() is called once when it passes the high-water mark and
// resumeWriting() once it drains to the low-water mark; and a protocol that honours them keeps
// the server's memory bounded however much a slow client sends.
import { afterEach, describe, expect, test } from 'vitest';
import type { Loop } from '../../src/loop.js';
import { Socket } from '../../src/socket.js';
import type { ConnectOptions, Protocol, Transport } from '../../src/transports.js';
import { backends, openLoop } from '../loop/helpers.js';
import { Recorder, pattern, track, trackServer } from '../helpers/net.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

const TOTAL = 20 << 20; // 20 MiB: far more than loopback's socket buffers hold
const CHUNK = 64 * 1024;
const READ_CHUNK = 64 * 1024; // what one Transport read takes (transports.ts)

/** A raw client socket connected to `address` through the loop. */
async function rawClient(loop: Loop, address: ConnectOptions): Promise<Socket> {
  const sock = track(Socket.tcp());
  await loop.sockConnect(sock, address as { host: string; port: number });
  return sock;
}

/** Reads everything until EOF (or `limit` bytes), through the loop. */
async function readAll(loop: Loop, sock: Socket, limit = Infinity): Promise<Buffer> {
  const parts: Buffer[] = [];
  let n = 0;
  while (n < limit) {
    const chunk = await loop.sockRecv(sock, 1 << 20);
    if (chunk.length === 0) break;
    parts.push(chunk);
    n += chunk.length;
  }
  return Buffer.concat(parts);
}

describe.each(backends)('%s loop', (backend) => {
  test('a server writing 20 MiB to a client that does not read: the buffer grows, pauseWriting at high water, resumeWriting when drained, every byte arrives', async () => {
    const loop = openLoop(backend, 15_000);
    const data = pattern(TOTAL, 7);
    const samples: number[] = [];
    let sizeAtPause = -1;
    let sizeAtResume = -1;
    let server!: Recorder;
    const srv = trackServer(
      await loop.createServer(() => {
        server = new Recorder({
          onMade: (t) => {
            for (let off = 0; off < TOTAL; off += CHUNK) {
              t.write(data.subarray(off, off + CHUNK));
              samples.push(t.getWriteBufferSize());
            }
          },
          onPause: (t) => void (sizeAtPause = t.getWriteBufferSize()),
          onResume: (t) => {
            sizeAtResume = t.getWriteBufferSize();
            t.close(); // everything is written; close() flushes the rest
          },
        });
        return server;
      }, { host: '127.0.0.1', port: 0 }),
    );
    const client = await loop.runUntilComplete(rawClient(loop, srv.address as ConnectOptions));
    // The client does not read for a while: the server's queue holds what the kernel would not take.
    await loop.runUntilComplete(sleep(100, loop));
    const t = server.transport;
    const { high, low } = t.getWriteBufferLimits();
    expect([high, low]).toEqual([64 * 1024, 16 * 1024]);
    const queued = t.getWriteBufferSize();
    expect(queued).toBeGreaterThan(TOTAL / 2); // the kernel took a few MiB at most
    expect(samples[samples.length - 1]).toBe(queued);
    // The buffer grew monotonically while the client did not read; the first write went straight out.
    for (let i = 1; i < samples.length; i++) expect(samples[i]).toBeGreaterThanOrEqual(samples[i - 1]);
    expect(samples[0]).toBe(0);
    expect(server.events).toEqual(['made', 'pause']);
    expect(sizeAtPause).toBeGreaterThan(high);
    expect(sizeAtPause).toBeLessThanOrEqual(high + CHUNK);

    const got = await loop.runUntilComplete(readAll(loop, client));
    expect(got.length).toBe(TOTAL);
    expect(got.equals(data)).toBe(true);
    expect(server.events).toEqual(['made', 'pause', 'resume', 'lost']);
    expect(sizeAtResume).toBeLessThanOrEqual(low);
    expect(server.lostWith).toBeNull();
  });

  test('a producer that honours pause/resume moves 20 MiB with the queue never above high water plus one chunk', async () => {
    const loop = openLoop(backend, 15_000);
    const data = pattern(TOTAL, 8);
    let maxQueued = 0;
    let pauses = 0;
    class Producer implements Protocol {
      t!: Transport;
      off = 0;
      paused = false;
      connectionMade(t: Transport): void {
        this.t = t;
        this.produce();
      }
      produce(): void {
        while (!this.paused && this.off < TOTAL) {
          this.t.write(data.subarray(this.off, this.off + CHUNK));
          this.off += CHUNK;
          maxQueued = Math.max(maxQueued, this.t.getWriteBufferSize());
        }
        if (this.off >= TOTAL) this.t.close();
      }
      pauseWriting(): void {
        this.paused = true;
        pauses++;
      }
      resumeWriting(): void {
        this.paused = false;
        loop.callSoon(() => this.produce());
      }
    }
    const srv = trackServer(await loop.createServer(() => new Producer(), { host: '127.0.0.1', port: 0 }));
    const client = await loop.runUntilComplete(rawClient(loop, srv.address as ConnectOptions));
    // A slow reader: small reads with pauses, so the producer is paused many times.
    const got = await loop.runUntilComplete(
      (async () => {
        const parts: Buffer[] = [];
        for (let i = 0; ; i++) {
          const chunk = await loop.sockRecv(client, 256 * 1024);
          if (chunk.length === 0) break;
          parts.push(chunk);
          if (i % 16 === 0) await sleep(1, loop);
        }
        return Buffer.concat(parts);
      })(),
    );
    expect(got.length).toBe(TOTAL);
    expect(got.equals(data)).toBe(true);
    expect(pauses).toBeGreaterThan(1);
    expect(maxQueued).toBeLessThanOrEqual(64 * 1024 + CHUNK);
  });

  test('an echo server that pauses reading on pauseWriting keeps its buffer bounded while a client sends 20 MiB without reading', async () => {
    const loop = openLoop(backend, 15_000);
    let maxQueued = 0;
    let serverT!: Transport;
    const events: string[] = [];
    class Echo implements Protocol {
      t!: Transport;
      connectionMade(t: Transport): void { this.t = serverT = t; }
      dataReceived(d: Buffer): void {
        this.t.write(d);
        maxQueued = Math.max(maxQueued, this.t.getWriteBufferSize());
      }
      eofReceived(): void {}
      pauseWriting(): void {
        events.push('pause');
        this.t.pauseReading();
      }
      resumeWriting(): void {
        events.push('resume');
        this.t.resumeReading();
      }
    }
    const srv = trackServer(await loop.createServer(() => new Echo(), { host: '127.0.0.1', port: 0 }));
    const client = await loop.runUntilComplete(rawClient(loop, srv.address as ConnectOptions));
    const data = pattern(TOTAL, 9);
    const sending = loop.sockSendAll(client, data).then(() => client.shutdown('write'));
    // Phase 1: the client only sends. Both directions' kernel buffers fill, the server pauses
    // (waited for, bounded: how long the buffers take to fill depends on the machine's load).
    for (let i = 0; i < 200 && events.length === 0; i++) await loop.runUntilComplete(sleep(50, loop));
    expect(events[0]).toBe('pause');
    expect(serverT.isReading()).toBe(false);
    expect(serverT.getWriteBufferSize()).toBeLessThanOrEqual(64 * 1024 + READ_CHUNK);
    // Phase 2: the client reads too; everything comes back.
    const [, got] = await loop.runUntilComplete(Promise.all([sending, readAll(loop, client, TOTAL)]));
    expect(got.length).toBe(TOTAL);
    expect(got.equals(data)).toBe(true);
    expect(events.filter((e) => e === 'pause').length).toBeGreaterThanOrEqual(1);
    expect(events.filter((e) => e === 'resume').length).toBeGreaterThanOrEqual(1);
    // Bounded: never more than the high-water mark plus one read's worth.
    expect(maxQueued).toBeLessThanOrEqual(64 * 1024 + READ_CHUNK);
  });

  test('a write the kernel takes only in part queues exactly the rest (a copy: the caller may reuse its buffer)', async () => {
    const loop = openLoop(backend, 10_000);
    let server!: Recorder;
    const big = pattern(8 << 20, 10);
    const srv = trackServer(await loop.createServer(() => (server = new Recorder()), { host: '127.0.0.1', port: 0 }));
    const client = await loop.runUntilComplete(rawClient(loop, srv.address as ConnectOptions));
    await loop.runUntilComplete(sleep(10, loop));
    const t = server.transport;
    const copy = Buffer.from(big);
    t.write(copy);
    const queued = t.getWriteBufferSize();
    expect(queued).toBeGreaterThan(0);
    expect(queued).toBeLessThan(big.length); // the kernel took a part at once
    copy.fill(0); // the transport kept its own copy of the rest
    t.close();
    const got = await loop.runUntilComplete(readAll(loop, client));
    expect(got.equals(big)).toBe(true);
  });

  test('writes after a queued one are queued behind it, in order, even when the kernel has room again', async () => {
    const loop = openLoop(backend, 10_000);
    let server!: Recorder;
    const srv = trackServer(await loop.createServer(() => (server = new Recorder()), { host: '127.0.0.1', port: 0 }));
    const client = await loop.runUntilComplete(rawClient(loop, srv.address as ConnectOptions));
    await loop.runUntilComplete(sleep(10, loop));
    const t = server.transport;
    const parts = [pattern(6 << 20, 1), Buffer.from('tail-1'), pattern(100_000, 2), Buffer.from('tail-2')];
    for (const p of parts) t.write(p);
    t.close();
    const got = await loop.runUntilComplete(readAll(loop, client));
    expect(got.equals(Buffer.concat(parts))).toBe(true);
  });
});
