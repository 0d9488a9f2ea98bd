// Streams (DESIGN §6.4, asyncio's open_connection/start_server): StreamReader's read, readExactly
// (ERR_INCOMPLETE_READ with .partial), readLine, readUntil (ERR_LIMIT_OVERRUN past `limit`),
// atEof and chunk-wise async iteration; StreamWriter's write (strings too), drain, writeEof,
// close and waitClosed. Backpressure both ways: a reader that holds more than `limit` pauses its
// transport; drain() waits while the write buffer is above its high-water mark.
import { afterEach, describe, expect, test } from 'vitest';
import { cleanup, openFdCount } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';
import type { Loop } from '../../src/loop.js';
import type { StreamReader, StreamWriter } from '../../src/streams.js';
import type { Server } from '../../src/transports.js';
import { pattern, rejectionOf, trackServer } from '../helpers/net.js';
import { inMode, modes } from '../helpers/modes.js';

afterEach(cleanup);

/** A stream server on 127.0.0.1:0 running `handler` per connection; its port. */
async function serve(
  loop: Loop,
  handler: (r: StreamReader, w: StreamWriter) => Promise<void>,
  limit?: number,
): Promise<[Server, number]> {
  const server = trackServer(await loop.startServer(handler, { host: '127.0.0.1', port: 0, limit }));
  return [server, (server.address as { port: number }).port];
}

describe.each(modes)('$name: streams', (mode) => {
  test('readLine, readExactly, readUntil, read(n) and read(-1) over an echo server; atEof at the end', async () => {
    await inMode(mode, async (loop) => {
      const before = openFdCount();
      const [server, port] = await serve(loop, async (r, w) => {
        for await (const chunk of r) {
          w.write(chunk);
          await w.drain();
        }
        w.close();
      });
      const [r, w] = await loop.openConnection({ host: '127.0.0.1', port });
      w.write('first line\nsecond');
      w.write(Buffer.from(' line\n12345678--END--tail'));
      expect((await r.readLine()).toString()).toBe('first line\n');
      expect((await r.readLine()).toString()).toBe('second line\n');
      expect((await r.readExactly(8)).toString()).toBe('12345678');
      expect((await r.readUntil('--END--')).toString()).toBe('--END--');
      expect((await r.read(2)).toString()).toBe('ta');
      w.writeEof();
      expect((await r.read()).toString()).toBe('il');
      expect(r.atEof()).toBe(true);
      expect((await r.read(10)).length).toBe(0);
      expect((await r.readLine()).length).toBe(0);
      w.close();
      await w.waitClosed();
      server.close();
      await server.closed;
      expect(openFdCount()).toBe(before);
    });
  });

  test('readExactly at EOF rejects with ERR_INCOMPLETE_READ and .partial; readLine returns the rest', async () => {
    await inMode(mode, async (loop) => {
      const [, port] = await serve(loop, async (_r, w) => {
        w.write('abc');
        w.close();
      });
      const [r, w] = await loop.openConnection({ host: '127.0.0.1', port });
      const err = (await rejectionOf(r.readExactly(10))) as Error & { code: string; partial: Buffer; expected: number };
      expect(err.code).toBe('ERR_INCOMPLETE_READ');
      expect(err.partial.toString()).toBe('abc');
      expect(err.expected).toBe(10);
      expect(r.atEof()).toBe(true);
      w.close();
      await w.waitClosed();

      const [r2, w2] = await loop.openConnection({ host: '127.0.0.1', port });
      expect((await r2.readLine()).toString()).toBe('abc');
      w2.close();
    });
  });

  test('readUntil past `limit` rejects with ERR_LIMIT_OVERRUN and leaves the data to read', async () => {
    await inMode(mode, async (loop) => {
      const [, port] = await serve(loop, async (_r, w) => {
        w.write(Buffer.alloc(3000, 'x'));
        w.write('\n');
        w.close();
      });
      const [r, w] = await loop.openConnection({ host: '127.0.0.1', port, limit: 1024 });
      const err = await rejectionOf(r.readUntil('\n'));
      expect(err.code).toBe('ERR_LIMIT_OVERRUN');
      const rest = await r.read(-1);
      expect(rest.length).toBe(3001);
      w.close();
    });
  });

  test('async iteration yields chunks as they arrive, then ends at EOF', async () => {
    await inMode(mode, async (loop) => {
      const [, port] = await serve(loop, async (_r, w) => {
        for (let i = 0; i < 5; i++) {
          w.write(`chunk ${i};`);
          await sleep(2, loop);
        }
        w.close();
      });
      const [r, w] = await loop.openConnection({ host: '127.0.0.1', port });
      const chunks: string[] = [];
      for await (const c of r) chunks.push(c.toString());
      expect(chunks.join('')).toBe('chunk 0;chunk 1;chunk 2;chunk 3;chunk 4;');
      expect(chunks.length).toBeGreaterThan(1);
      w.close();
    });
  });

  test('a reader holding more than `limit` pauses its transport, and resumes once read below it', async () => {
    const data = pattern(1 << 20, 3);
    await inMode(
      mode,
      async (loop) => {
        let finish!: () => void;
        const go = new Promise<void>((resolve) => {
          finish = resolve;
        });
        const [, port] = await serve(loop, async (_r, w) => {
          w.write(data);
          await go; // no EOF yet: a transport that stopped reading stopped because it was paused
          w.close();
        });
        const [r, w] = await loop.openConnection({ host: '127.0.0.1', port, limit: 16 * 1024 });
        // Let the server push: the client reads nothing yet.
        for (let i = 0; i < 50 && w.transport.isReading(); i++) await sleep(2, loop);
        expect(w.transport.isReading()).toBe(false);
        finish();
        const got = await r.read(-1);
        expect(got.equals(data)).toBe(true);
        w.close();
      },
      15_000,
    );
  });

  test('drain() waits while the write buffer is above high water, and resolves once the peer reads', async () => {
    await inMode(
      mode,
      async (loop) => {
        let startReading!: () => void;
        const go = new Promise<void>((resolve) => {
          startReading = resolve;
        });
        const total = 8 << 20;
        let received = 0;
        const [, port] = await serve(loop, async (r, w) => {
          await go;
          for await (const c of r) received += c.length;
          w.close();
        });
        const [r, w] = await loop.openConnection({ host: '127.0.0.1', port });
        w.transport.setWriteBufferLimits({ high: 64 * 1024 });
        for (let sent = 0; sent < total; sent += 1 << 20) w.write(Buffer.alloc(1 << 20));
        let drained = false;
        const d = w.drain().then(() => {
          drained = true;
        });
        await sleep(20, loop);
        expect(drained).toBe(false);
        expect(w.transport.getWriteBufferSize()).toBeGreaterThan(64 * 1024);
        startReading();
        await d;
        expect(w.transport.getWriteBufferSize()).toBeLessThanOrEqual(16 * 1024);
        w.writeEof();
        expect((await r.read()).length).toBe(0); // the server closes after reading to EOF
        w.close();
        await w.waitClosed();
        expect(received).toBe(total);
      },
      15_000,
    );
  });

  test('drain() and reads reject once the peer reset the connection; waitClosed rejects with it', async () => {
    await inMode(mode, async (loop) => {
      const [, port] = await serve(loop, async (_r, w) => {
        w.transport.abort();
      });
      const [r, w] = await loop.openConnection({ host: '127.0.0.1', port });
      const got = await r.read().catch((err: Error & { code?: string }) => err.code);
      // abort() closes without SO_LINGER, so the client sees a plain EOF (empty read) or a reset.
      expect(got === 'ECONNRESET' || (got instanceof Buffer && got.length === 0)).toBe(true);
      w.close();
      await w.waitClosed().catch(() => {});
      expect((await rejectionOf(w.drain())).code).toMatch(/ERR_TRANSPORT_CLOSED|ECONNRESET/);
    });
  });

  test('a throwing client callback goes to the exception handler and closes that connection', async () => {
    await inMode(mode, async (loop) => {
      const errors: unknown[] = [];
      loop.setExceptionHandler((err) => void errors.push(err));
      const [, port] = await serve(loop, async () => {
        throw new Error('handler failed');
      });
      const [r, w] = await loop.openConnection({ host: '127.0.0.1', port });
      const got = await r.read().catch(() => Buffer.alloc(0));
      expect(got.length).toBe(0);
      expect((errors[0] as Error).message).toBe('handler failed');
      w.close();
    });
  });
});

describe('streams: arguments', () => {
  test('bad limit, separator or callback', async () => {
    await inMode(modes[0], async (loop) => {
      expect((await rejectionOf(loop.openConnection({ host: '127.0.0.1', port: 1, limit: 0 }))).code).toBe(
        'ERR_INVALID_ARG_VALUE',
      );
      expect((await rejectionOf(loop.startServer(5 as never, { port: 0 }))).code).toBe('ERR_INVALID_ARG_TYPE');
      const [, port] = await serve(loop, async (_r, w) => {
        w.close();
      });
      const [r, w] = await loop.openConnection({ host: '127.0.0.1', port });
      expect((await rejectionOf(r.readUntil(''))).code).toBe('ERR_INVALID_ARG_VALUE');
      expect((await rejectionOf(r.read(1.5))).code).toBe('ERR_INVALID_ARG_VALUE');
      w.close();
    });
  });
});
