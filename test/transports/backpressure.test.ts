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
import { Recorder, pattern, smallBuffers, track, trackServer } from '../helpers/net.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

const TOTAL = 20 << 20; // 20 MiB: far more than loopback's socket buffers hold
const CHUNK = 64 * 1024;
const READ_CHUNK = 64 * 1024; // what one Transport read takes (transports.ts)
const KERNEL_BUFFER = 64 * 1024; // SO_SNDBUF/SO_RCVBUF where a test caps them (see smallBuffers)

/** A raw client socket connected to `address` through the loop; `buffers` caps its kernel buffers. */
async function rawClient(loop: Loop, address: ConnectOptions, buffers?: number): Promise<Socket> {
  const sock = track(Socket.tcp());
  if (buffers !== undefined) smallBuffers(sock, buffers); // before connect: sizes the window
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
    let made!: () => void;
    const madeOnce = new Promise<void>((resolve) => (made = resolve));
    const srv = trackServer(
      await loop.createServer(
        () => {
          server = new Recorder({
            onMade: (t) => {
              // Small kernel buffers on both ends: how much the kernel takes must not depend on the
              // machine's TCP autotuning limits (net.ipv4.tcp_wmem / tcp_rmem).
              smallBuffers(t.socket, KERNEL_BUFFER);
              made();
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
        },
        { host: '127.0.0.1', port: 0 },
      ),
    );
    const client = await loop.runUntilComplete(rawClient(loop, srv.address as ConnectOptions, KERNEL_BUFFER));
    await loop.runUntilComplete(madeOnce);
    // The client does not read for a while: the server's queue holds what the kernel would not take.
    await loop.runUntilComplete(sleep(100, loop));
    const t = server.transport;
    const { high, low } = t.getWriteBufferLimits();
    expect([high, low]).toEqual([64 * 1024, 16 * 1024]);
    const queued = t.getWriteBufferSize();
    // The kernel took about its buffers' worth (Linux doubles both sizes; 8x leaves room for that).
    expect(queued).toBeGreaterThan(TOTAL - 8 * KERNEL_BUFFER);
    // Without writes the queue does not grow; the kernel may have taken a few more KiB meanwhile.
    expect(queued).toBeLessThanOrEqual(samples[samples.length - 1]);
    // The buffer grew monotonically while the client did not read; the first write went straight out.
    for (let i = 1; i < samples.length; i++) expect(samples[i]).toBeGreaterThanOrEqual(samples[i - 1]);
    expect(samples[0]).toBe(0);
    expect(server.events).toEqual(['made', 'pause']);
    expect(sizeAtPause).toBeGreaterThan(high);
    expect(sizeAtPause).toBeLessThanOrEqual(high + CHUNK);

    const got = await loop.runUntilComplete(readAll(loop, client));
    expect(got.length).toBe(TOTAL);
    expect(got.equals(data)).toBe(true);
    // connectionLost runs in an iteration after the close that sent our EOF, and the client's
    // try-first reads can see that EOF in the close's own iteration: wait for it, not for the EOF.
    expect(await loop.runUntilComplete(server.lost)).toBeNull();
    expect(server.events).toEqual(['made', 'pause', 'resume', 'lost']);
    expect(sizeAtResume).toBeLessThanOrEqual(low);
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
    let paused!: () => void;
    const firstPause = new Promise<void>((resolve) => (paused = resolve));
    class Echo implements Protocol {
      t!: Transport;
      connectionMade(t: Transport): void {
        this.t = serverT = t;
      }
      dataReceived(d: Buffer): void {
        this.t.write(d);
        maxQueued = Math.max(maxQueued, this.t.getWriteBufferSize());
      }
      eofReceived(): void {}
      pauseWriting(): void {
        events.push('pause');
        this.t.pauseReading();
        paused();
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
    // Phase 1: the client only sends. Both directions' kernel buffers fill, the server pauses.
    // Waited for as an event: how long the buffers take to fill depends on the machine's load.
    await loop.runUntilComplete(firstPause);
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
    let made!: () => void;
    const madeOnce = new Promise<void>((resolve) => (made = resolve));
    const big = pattern(8 << 20, 10);
    const srv = trackServer(
      await loop.createServer(() => (server = new Recorder({ onMade: () => made() })), { host: '127.0.0.1', port: 0 }),
    );
    const client = await loop.runUntilComplete(rawClient(loop, srv.address as ConnectOptions, KERNEL_BUFFER));
    await loop.runUntilComplete(madeOnce);
    const t = server.transport;
    smallBuffers(t.socket, KERNEL_BUFFER); // the kernel takes a part, on any machine
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
