// Fault matrix (issue 9, proof 5): signals during every blocking call. Every iomux call that
// blocks does so in the selector's wait (all fds are non-blocking), so the matrix is the kinds of
// wait: one bounded by a timer, one without a timeout (a reader), and the waits behind sockRecv,
// sockSendAll and sockAccept. A burst of signals lands in the middle of each, either one the loop
// handles (SIGUSR2, through addSignalHandler) or one only Node listens to (SIGWINCH: the wait is
// interrupted with EINTR and must be resumed, since Node's handler cannot run meanwhile). The
// wait must end only when its event comes (never early, never lost), the loop's handler must
// run, and the bystander loses nothing. (test/selectors/signals.test.ts covers a raw selector.)
import { afterEach, describe, expect, test } from 'vitest';
import type { Loop } from '../../src/loop.js';
import { Socket, socketpair } from '../../src/socket.js';
import { shell, writeLater } from '../helpers/fds.js';
import { backends, openLoop } from '../loop/helpers.js';
import { closeTracked, drainSocket, fillSocket, listener, track, trackedPipe } from '../helpers/net.js';
import { withBystander } from './harness.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

/** The event that ends each wait comes this long after the wait began. */
const EVENT_MS = 150;

/**
 * Five signals, 5 ms apart, starting 30 ms from now, from another process. Resolves (on the loop)
 * once the last was sent: a handler must stay installed until then, since a SIGUSR2 arriving
 * after removeSignalHandler() meets the default disposition, which ends the process (a loaded
 * machine can stretch the burst past the wait).
 */
function burst(loop: Loop, sig: string): Promise<void> {
  const [r, w] = trackedPipe();
  shell(`sleep 0.03; for i in 1 2 3 4 5; do kill -s ${sig} ${process.pid}; sleep 0.005; done; printf x >&3`, w);
  closeTracked(w);
  return new Promise((resolve) =>
    loop.addReader(r, () => {
      loop.removeReader(r);
      closeTracked(r);
      resolve();
    }),
  );
}

/** Each wait: starts it, arranges its event EVENT_MS later, and checks what it returned. */
const waits: Array<[string, (loop: Loop) => Promise<void>]> = [
  [
    'a timer wait',
    async (loop) => {
      const start = loop.time();
      await sleep(EVENT_MS, loop);
      expect(loop.time() - start).toBeGreaterThanOrEqual(EVENT_MS);
    },
  ],
  [
    'a wait without timeout (a reader; the data comes from another process)',
    async (loop) => {
      const [a, b] = socketpair();
      writeLater(a.fd, EVENT_MS);
      await new Promise<void>((resolve) =>
        loop.addReader(b, () => {
          loop.removeReader(b);
          resolve();
        }),
      );
      expect(b.recv(8)?.toString()).toBe('x');
      a.close();
      b.close();
    },
  ],
  [
    'sockRecv (the data comes from another process)',
    async (loop) => {
      const [a, b] = socketpair();
      writeLater(a.fd, EVENT_MS);
      expect((await loop.sockRecv(b, 8)).toString()).toBe('x');
      a.close();
      b.close();
    },
  ],
  [
    'sockSendAll on a full socket',
    async (loop) => {
      const [a, b] = socketpair();
      const queued = fillSocket(a);
      loop.callLater(EVENT_MS, () => drainSocket(b));
      await loop.sockSendAll(a, Buffer.from('after the drain'));
      let got = '';
      while (!got.endsWith('after the drain')) got += (await loop.sockRecv(b, 1 << 20)).toString('latin1');
      expect(got.length).toBeLessThanOrEqual(queued + 15);
      a.close();
      b.close();
    },
  ],
  [
    'sockAccept',
    async (loop) => {
      const l = listener('tcp4');
      const client = track(Socket.tcp());
      loop.callLater(EVENT_MS, () => client.connect(l.localAddress));
      const conn = track(await loop.sockAccept(l));
      expect(conn.remoteAddress).toEqual(client.localAddress);
      conn.close();
      client.close();
      l.close();
    },
  ],
];

describe.each(backends)('%s loop: signals during blocking waits', (backend) => {
  const open = () => openLoop(backend, 15_000);

  test.each(waits)(
    'SIGUSR2 (a loop handler) during %s: the handler runs, the wait ends on its event',
    async (_name, wait) => {
      let handled = 0;
      await withBystander(open, async (loop) => {
        loop.addSignalHandler('SIGUSR2', () => {
          handled++;
        });
        const sent = burst(loop, 'USR2');
        await wait(loop);
        await sent;
        // Signals of one kind that arrive together may merge into one (signal(7)).
        expect(handled).toBeGreaterThanOrEqual(1);
        loop.removeSignalHandler('SIGUSR2');
      });
    },
  );

  test.each(waits)(
    "SIGWINCH (Node's own listener) during %s: the wait resumes and ends on its event",
    async (_name, wait) => {
      let seenByNode = 0;
      const listener = () => {
        seenByNode++;
      };
      process.on('SIGWINCH', listener);
      try {
        await withBystander(open, async (loop) => {
          const sent = burst(loop, 'WINCH');
          await wait(loop);
          await sent;
        });
        // Node's handler ran once Node's own loop got the thread back.
        for (let i = 0; i < 100 && seenByNode === 0; i++) await new Promise((r) => setTimeout(r, 10));
        expect(seenByNode).toBeGreaterThanOrEqual(1);
      } finally {
        process.off('SIGWINCH', listener);
      }
    },
  );
});
