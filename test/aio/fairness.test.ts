// Fairness (src/aio.ts, "Fairness"): an operation that completes at once resolves in a promise
// job, and the loop drains promise jobs before it selects again, so a coroutine whose I/O never
// waits would keep the loop from ever reaching its next select. Each socket therefore yields to
// the loop after IMMEDIATE_RUN immediate completions in a row. Iterations are counted by the
// selector (one select per iteration), never by a clock.
import { afterEach, describe, expect, test } from 'vitest';
import type { Loop } from '../../src/loop.js';
import { Socket } from '../../src/socket.js';
import { IMMEDIATE_RUN } from '../../src/aio.js';
import { Transport, type Protocol } from '../../src/transports.js';
import { ReadSlab } from '../../src/read-slab.js';
import { backends, openLoop } from '../loop/helpers.js';
import { acceptFrom, connectedPair, listener, track, waitReadable } from '../helpers/net.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

/** Per socket, how many operations completed in each iteration (keyed by the select count). */
class TurnLog {
  readonly #counts = new Map<string, number>();
  total = 0;

  constructor(readonly loop: Loop & { selector: { selects: number } }) {}

  note(who: number): void {
    const key = `${who}@${this.loop.selector.selects}`;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
    this.total++;
  }

  /** The most operations one socket completed between two selects. */
  longestRun(): number {
    return Math.max(0, ...this.#counts.values());
  }
}

const CHUNK = 16;

/**
 * An echo coroutine over `side` for `rounds` reads of CHUNK bytes, whose peer queued all of its
 * input up front: every read and every send can complete at once.
 */
async function echoHog(loop: Loop, side: Socket, rounds: number, log: TurnLog, who: number): Promise<void> {
  const buf = Buffer.alloc(CHUNK);
  for (let i = 0; i < rounds; i++) {
    const n = await loop.sockRecvInto(side, buf);
    log.note(who);
    if (n !== CHUNK) throw new Error(`short read: ${n}`);
    await loop.sockSendAll(side, buf);
    log.note(who);
  }
}

/** `count` socketpairs whose peer already sent rounds * CHUNK bytes: [peer, side]. */
function readyPairs(count: number, rounds: number): Array<[Socket, Socket]> {
  const pairs: Array<[Socket, Socket]> = [];
  for (let i = 0; i < count; i++) {
    const [peer, side] = connectedPair('socketpair');
    expect(peer.send(Buffer.alloc(rounds * CHUNK, i))).toBe(rounds * CHUNK);
    pairs.push([peer, side]);
  }
  return pairs;
}

describe.each(backends)('%s loop', (backend) => {
  test('a socket whose reads and writes never wait runs at most IMMEDIATE_RUN + 1 operations per iteration', async () => {
    const loop = openLoop(backend);
    const rounds = 64;
    const log = new TurnLog(loop);
    const pairs = readyPairs(4, rounds);
    await loop.runUntilComplete(Promise.all(pairs.map(([, side], who) => echoHog(loop, side, rounds, log, who))));
    expect(log.total).toBe(4 * 2 * rounds);
    // Unbounded, every operation would complete before the loop's first select.
    expect(log.longestRun()).toBeLessThanOrEqual(IMMEDIATE_RUN + 1);
    for (const [peer] of pairs) expect(peer.recv(rounds * CHUNK + 1)!.length).toBe(rounds * CHUNK);
  });

  test('a connection waiting in the selector gets its turn while the others never wait', async () => {
    const loop = openLoop(backend);
    const hogs = 16;
    const rounds = 128;
    const log = new TurnLog(loop);
    const [victimPeer, victim] = connectedPair('socketpair');
    let opsBeforeVictim = -1;
    // Nothing to read yet: the victim waits in the selector ...
    const victimRead = loop.sockRecvInto(victim, Buffer.alloc(8)).then((n) => {
      opsBeforeVictim = log.total;
      return n;
    });
    // ... and its byte arrives while the hogs, whose input is all there, start.
    victimPeer.send(Buffer.from('x'));
    const running = readyPairs(hogs, rounds).map(([, side], who) => echoHog(loop, side, rounds, log, who));
    const [got] = await loop.runUntilComplete(Promise.all([victimRead, ...running]));
    expect(got).toBe(1);
    expect(log.total).toBe(hogs * 2 * rounds);
    // Its byte is seen by the first select; before its continuation runs, each hog has had at
    // most its run before that select and one more after it (4096 operations if unbounded).
    expect(opsBeforeVictim).toBeGreaterThanOrEqual(0);
    expect(opsBeforeVictim).toBeLessThanOrEqual(hogs * 2 * (IMMEDIATE_RUN + 1));
  });

  test('a sender whose sends never wait yields too', async () => {
    const loop = openLoop(backend);
    const log = new TurnLog(loop);
    const [peer, side] = connectedPair('socketpair');
    const sends = 200;
    const msg = Buffer.alloc(64, 's');
    const sender = async (): Promise<void> => {
      for (let i = 0; i < sends; i++) {
        await loop.sockSendAll(side, msg);
        log.note(0);
      }
    };
    await loop.runUntilComplete(sender());
    expect(log.total).toBe(sends);
    expect(log.longestRun()).toBeLessThanOrEqual(IMMEDIATE_RUN + 1);
    expect(peer.recv(sends * msg.length + 1)!.length).toBe(sends * msg.length);
  });

  test('a datagram sender whose sends never wait yields too', async () => {
    const loop = openLoop(backend);
    const log = new TurnLog(loop);
    const receiver = track(Socket.udp());
    receiver.bind({ host: '127.0.0.1', port: 0 });
    const to = receiver.localAddress as { host: string; port: number };
    const sender = track(Socket.udp());
    const sends = 64;
    const run = async (): Promise<void> => {
      for (let i = 0; i < sends; i++) {
        await loop.sockSendTo(sender, Buffer.alloc(32, i), to);
        log.note(0);
      }
    };
    await loop.runUntilComplete(run());
    expect(log.total).toBe(sends);
    expect(log.longestRun()).toBeLessThanOrEqual(IMMEDIATE_RUN + 1);
  });

  test('a socket that has had its run still completes a { timeout: 0 } read that has data', async () => {
    const loop = openLoop(backend);
    const [peer, side] = connectedPair('socketpair');
    peer.send(Buffer.alloc(IMMEDIATE_RUN + 1, 'd'));
    const one = Buffer.alloc(1);
    const reads = async (): Promise<number> => {
      for (let i = 0; i < IMMEDIATE_RUN; i++) expect(await loop.sockRecvInto(side, one)).toBe(1);
      // This one yields to the loop; the loop's I/O phase wakes it before its timer phase.
      return loop.sockRecvInto(side, one, { timeout: 0 });
    };
    expect(await loop.runUntilComplete(reads())).toBe(1);
  });

  test('a stream producer whose drain() never waits yields too', async () => {
    const loop = openLoop(backend);
    const l = listener('tcp4');
    const { port } = l.localAddress as { port: number };
    const [, writer] = await loop.runUntilComplete(loop.openConnection({ host: '127.0.0.1', port }));
    const peer = acceptFrom(l);
    const log = new TurnLog(loop);
    const writes = 200;
    const msg = Buffer.alloc(64, 'w');
    const produce = async (): Promise<void> => {
      for (let i = 0; i < writes; i++) {
        writer.write(msg);
        await writer.drain();
        log.note(0);
      }
    };
    await loop.runUntilComplete(produce());
    expect(writer.transport.getWriteBufferSize()).toBe(0); // the kernel took every write at once
    expect(log.total).toBe(writes);
    expect(log.longestRun()).toBeLessThanOrEqual(IMMEDIATE_RUN + 1);
    let got = 0;
    while (got < writes * msg.length) {
      waitReadable(peer);
      got += peer.recv(64 * 1024)!.length;
    }
    expect(got).toBe(writes * msg.length);
    writer.transport.abort();
  });

  test('transports read once per readiness: at most one dataReceived per connection per iteration', async () => {
    const loop = openLoop(backend);
    const conns = 8;
    const rounds = 32;
    const log = new TurnLog(loop);
    const done: Array<Promise<void>> = [];
    for (let who = 0; who < conns; who++) {
      const [peer, side] = connectedPair('socketpair');
      let seen = 0;
      let finish!: () => void;
      done.push(new Promise<void>((resolve) => (finish = resolve)));
      const protocol: Protocol = {
        dataReceived(data: Buffer): void {
          log.note(who);
          transport.write(data);
          seen += data.length;
          if (seen === rounds * CHUNK) {
            transport.close();
            finish();
          }
        },
      };
      // A Transport over a connected socket, as createServer() makes them.
      const transport = new Transport(loop, side, protocol, new ReadSlab());
      // The peer sends one chunk at a time, each as soon as the last one came back.
      peer.send(Buffer.alloc(CHUNK, who));
      let sent = 1;
      loop.addReader(peer, () => {
        const back = peer.recv(CHUNK * 4);
        if (back === null || back.length === 0) return void loop.removeReader(peer);
        if (sent < rounds) {
          peer.send(Buffer.alloc(CHUNK, who));
          sent++;
        } else {
          loop.removeReader(peer);
        }
      });
    }
    await loop.runUntilComplete(Promise.all(done));
    expect(log.total).toBe(conns * rounds);
    expect(log.longestRun()).toBe(1);
  });
});
