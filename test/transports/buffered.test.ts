// Buffered protocols (asyncio's BufferedProtocol): a protocol with getBuffer() gets its bytes in
// the buffer it hands out, then bufferUpdated(n), instead of dataReceived(). The protocol owns
// the memory and may return the same buffer every time. A bad buffer or a callback that throws
// ends the transport through the fatal-error path, as for any protocol callback.
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { Transport } from '../../src/transports.js';
import { Loop } from '../../src/loop.js';
import { DeadlineSelector, backends } from '../loop/helpers.js';
import { connectedPair, pattern } from '../helpers/net.js';
import { cleanup, hold } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

/** A loop whose exception handler records what it gets (the fatal-error path reports there). */
function openLoop(backend: (typeof backends)[number], batch: boolean): { loop: Loop; reported: unknown[] } {
  const loop = new Loop({ selector: new DeadlineSelector(backend, 10_000), batch });
  const reported: unknown[] = [];
  loop.setExceptionHandler((err) => void reported.push(err));
  hold(() => {
    if (!loop.isRunning()) loop.close();
  });
  return { loop, reported };
}

/** Keeps what bufferUpdated() says arrived, copying it out of one reused buffer. */
class Collector {
  transport!: Transport;
  readonly buf: Uint8Array;
  readonly hints: number[] = [];
  readonly got: Buffer[] = [];
  readonly events: string[] = [];
  lostWith: Error | null | undefined;
  constructor(size = 4096) {
    this.buf = new Uint8Array(size);
  }
  connectionMade(t: Transport): void {
    this.transport = t;
  }
  getBuffer(hint: number): Uint8Array {
    this.hints.push(hint);
    return this.buf;
  }
  bufferUpdated(n: number): void {
    this.got.push(Buffer.from(this.buf.subarray(0, n)));
  }
  dataReceived(): void {
    this.events.push('dataReceived'); // never called for a buffered protocol
  }
  eofReceived(): void {
    this.events.push('eof');
  }
  connectionLost(err: Error | null): void {
    this.events.push('lost');
    this.lostWith = err;
  }
  data(): Buffer {
    return Buffer.concat(this.got);
  }
}

describe.each(backends.filter((b) => b !== 'kqueue'))('%s', (backend) => {
  describe.each([true, false])('batch: %s', (batch) => {
    test('1 MiB through a reused 4 KiB buffer: every byte once and in order, then EOF', async () => {
      const { loop } = openLoop(backend, batch);
      const [peer, mine] = connectedPair('socketpair');
      const c = new Collector();
      await loop.connectAcceptedSocket(() => c, mine);
      const data = pattern(1 << 20, 5);
      await loop.runUntilComplete(loop.sockSendAll(peer, data));
      peer.shutdown('write');
      const deadline = loop.time() + 5000;
      while (!c.events.includes('lost') && loop.time() < deadline) await loop.runUntilComplete(sleep(2, loop));
      expect(c.data().equals(data)).toBe(true);
      expect(c.got.length).toBeGreaterThanOrEqual(256); // at most 4 KiB a read
      expect(c.events).toEqual(['eof', 'lost']);
      expect(c.lostWith).toBeNull();
      // The most one read takes, or (a read the loop made, copied in) the bytes still to place.
      for (const hint of c.hints) expect(hint > 0 && hint <= 64 * 1024).toBe(true);
    });

    test('an echo that writes from its buffer before reusing it sends what it read', async () => {
      const { loop } = openLoop(backend, batch);
      const [peer, mine] = connectedPair('tcp4');
      const buf = Buffer.alloc(1000);
      let t!: Transport;
      await loop.connectAcceptedSocket(
        () => ({
          connectionMade: (tr: Transport) => void (t = tr),
          getBuffer: () => buf,
          bufferUpdated: (n: number) => t.write(buf.subarray(0, n)), // copied or sent: never aliased
        }),
        mine,
      );
      const data = pattern(300_000, 9);
      const [, echoed] = await loop.runUntilComplete(
        Promise.all([
          loop.sockSendAll(peer, data),
          (async () => {
            const parts: Buffer[] = [];
            let got = 0;
            while (got < data.length) {
              const chunk = await loop.sockRecv(peer, 65536);
              parts.push(chunk);
              got += chunk.length;
            }
            return Buffer.concat(parts);
          })(),
        ]),
      );
      expect(echoed.equals(data)).toBe(true);
    });

    test('no reads while paused; resumeReading() brings the rest', async () => {
      const { loop } = openLoop(backend, batch);
      const [peer, mine] = connectedPair('socketpair');
      const c = new Collector();
      const [t] = await loop.connectAcceptedSocket(() => c, mine);
      t.pauseReading();
      peer.send(Buffer.from('held back'));
      await loop.runUntilComplete(sleep(20, loop));
      expect(c.got).toEqual([]);
      t.resumeReading();
      while (c.data().length < 9) await loop.runUntilComplete(sleep(2, loop));
      expect(c.data().toString()).toBe('held back');
    });
  });

  test("small reads ride the loop's batched read; after a large one the transport reads straight into the buffer until a read is small again", async () => {
    const { loop } = openLoop(backend, true);
    const [peer, mine] = connectedPair('socketpair');
    const direct = vi.spyOn(mine, 'recvInto'); // the one-syscall path; the batched one reads natively
    const c = new Collector(64 * 1024);
    await loop.connectAcceptedSocket(() => c, mine);
    const sent: Buffer[] = [];
    /** Sends `size` bytes and runs the loop until the protocol has all it was sent. */
    const exchange = async (size: number): Promise<void> => {
      const part = pattern(size, sent.length + 1);
      sent.push(part);
      const want = sent.reduce((sum, b) => sum + b.length, 0);
      await loop.runUntilComplete(loop.sockSendAll(peer, part));
      const deadline = loop.time() + 5000;
      while (c.data().length < want && loop.time() < deadline) await loop.runUntilComplete(sleep(1, loop));
    };
    for (let i = 0; i < 5; i++) await exchange(100);
    expect(direct).not.toHaveBeenCalled();
    await exchange(40_000); // the first large read was batched and copied; the next go direct
    await exchange(40_000);
    const afterLarge = direct.mock.calls.length;
    expect(afterLarge).toBeGreaterThan(0);
    await exchange(100); // read directly, small: the next ones are batched again
    const settled = direct.mock.calls.length;
    for (let i = 0; i < 5; i++) await exchange(100);
    expect(direct.mock.calls.length).toBe(settled);
    expect(c.data().equals(Buffer.concat(sent))).toBe(true);
    expect(c.events).toEqual([]);
  });

  test.each([
    ['an empty buffer', () => new Uint8Array(0)],
    ['a string', () => 'not bytes' as unknown as Uint8Array],
  ])('getBuffer() returning %s ends the transport with a TypeError, reported', async (_what, make) => {
    const { loop, reported } = openLoop(backend, true);
    const [peer, mine] = connectedPair('socketpair');
    const c = new Collector();
    c.getBuffer = make;
    await loop.connectAcceptedSocket(() => c, mine);
    peer.send(Buffer.from('x'));
    while (!c.events.includes('lost')) await loop.runUntilComplete(sleep(2, loop));
    expect(c.lostWith).toBeInstanceOf(TypeError);
    expect((c.lostWith as { code?: string }).code).toBe('ERR_INVALID_ARG_VALUE');
    expect(reported).toEqual([c.lostWith]);
    expect(mine.closed).toBe(true);
  });

  test.each(['getBuffer', 'bufferUpdated'] as const)(
    '%s() that throws ends the transport with its error, reported',
    async (which) => {
      const { loop, reported } = openLoop(backend, true);
      const [peer, mine] = connectedPair('socketpair');
      const c = new Collector();
      const boom = new Error(`${which} failed`);
      c[which] = () => {
        throw boom;
      };
      await loop.connectAcceptedSocket(() => c, mine);
      peer.send(Buffer.from('x'));
      while (!c.events.includes('lost')) await loop.runUntilComplete(sleep(2, loop));
      expect(c.lostWith).toBe(boom);
      expect(reported).toEqual([boom]);
    },
  );

  test('bytes a cancelled aio read had taken are copied into the buffers first, in pieces that fit', async () => {
    const { loop } = openLoop(backend, true);
    const [peer, mine] = connectedPair('socketpair');
    const ac = new AbortController();
    const cancelled = loop.sockRecv(mine, 64, { signal: ac.signal }).catch((e: unknown) => (e as Error).name);
    peer.send(Buffer.from('first;'));
    loop.callSoon(() => ac.abort()); // after the batched read took 'first;', before its delivery
    expect(await loop.runUntilComplete(cancelled)).toBe('AbortError');
    const c = new Collector(4); // smaller than what was held
    await loop.connectAcceptedSocket(() => c, mine);
    peer.send(Buffer.from('second;'));
    while (c.data().toString() !== 'first;second;') await loop.runUntilComplete(sleep(2, loop));
    expect(c.got.slice(0, 2).map(String)).toEqual(['firs', 't;']);
    expect(c.hints.slice(0, 2)).toEqual([6, 2]);
  });
});
