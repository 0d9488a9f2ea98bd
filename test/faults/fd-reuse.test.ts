// Fault matrix (issue 9, proof 5): fd reuse within one batch. Two connections are readable in
// the same select; whichever transport's dataReceived runs first aborts the other (its fd is
// closed mid-batch) and opens a socket pair that takes the freed fd number, with a reader on it.
// The other fd's readiness is still ahead in the batch: it must not reach the new owner, who is
// called only for its own data, in a later select. (test/loop/stale-events.test.ts checks the
// same with raw pipes.) Beside a bystander that loses nothing; fds back at baseline.
import { afterEach, describe, expect, test } from 'vitest';
import type { Loop } from '../../src/loop.js';
import { Socket, socketpair } from '../../src/socket.js';
import { pipe } from '../../src/pipe.js';
import { native } from '../../src/native.js';
import type { Transport } from '../../src/transports.js';
import { backends, openLoop } from '../loop/helpers.js';
import { track } from '../helpers/net.js';
import { withBystander } from './harness.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

/** A socket pair one of whose ends has fd number `n` (lower free numbers are plugged meanwhile). */
function pairAt(n: number): [mine: Socket, peer: Socket] {
  const plugs: number[] = [];
  try {
    for (let i = 0; i < 64; i++) {
      const [a, b] = socketpair();
      if (a.fd === n) return [a, b];
      if (b.fd === n) return [b, a];
      a.close();
      b.close();
      const [r, w] = pipe(); // plug the lowest holes so the next pair moves up
      plugs.push(r.fd, w.fd);
    }
    throw new Error(`fd ${n} did not come back`);
  } finally {
    for (const fd of plugs) native.close(fd);
  }
}

async function until(loop: Loop, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await sleep(2, loop);
  expect(cond()).toBe(true);
}

describe.each(backends)('%s loop: fd reuse within one batch', (backend) => {
  test('a transport aborted mid-batch by another: the fd number, reused at once, gets no stale readiness', async () => {
    const selects = (loop: Loop) => (loop.selector as unknown as { selects: number }).selects;
    await withBystander(
      () => openLoop(backend, 15_000),
      async (loop) => {
        const victims: Transport[] = [];
        let swap: { fd: number; at: number; peer: Socket; mine: Socket } | undefined;
        const newOwnerCalls: number[] = [];
        const srv = await loop.createServer(
          () => {
            let me!: Transport;
            return {
              connectionMade(t) {
                me = t;
                victims.push(t);
              },
              dataReceived() {
                if (swap !== undefined) return;
                const other = victims.find((t) => t !== me)!;
                const fd = other.socket.fd;
                other.abort();
                const [mine, peer] = pairAt(fd);
                swap = { fd, at: selects(loop), peer, mine };
                loop.addReader(mine, () => {
                  newOwnerCalls.push(selects(loop));
                  mine.recv(16);
                  loop.removeReader(mine);
                });
                loop.callLater(10, () => peer.send(Buffer.from('z'))); // its own readiness, later
              },
            };
          },
          { host: '127.0.0.1', port: 0 },
        );
        const clients = [track(Socket.tcp()), track(Socket.tcp())];
        for (const c of clients) await loop.sockConnect(c, srv.address);
        await until(loop, () => victims.length === 2);
        // Both in the kernel before the next select: one batch holds both fds.
        for (const c of clients) c.send(Buffer.from('go'));
        await until(loop, () => newOwnerCalls.length === 1);
        expect(newOwnerCalls[0]).toBeGreaterThan(swap!.at);
        await sleep(20, loop);
        expect(newOwnerCalls).toHaveLength(1);
        swap!.mine.close();
        swap!.peer.close();
        for (const c of clients) c.close();
        srv.close();
        srv.abortConnections();
        await srv.closed;
      },
    );
  });
});
