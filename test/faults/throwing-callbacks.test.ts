// Fault matrix (issue 9, proof 5): a callback that throws, in every phase of an iteration: a
// reader, a writer, a timer, a callSoon callback, a signal handler, and each Protocol callback
// (test/transports/protocol-errors.test.ts checks the transport side of those in detail). The
// error reaches the exception handler with its context; the loop goes on, the callback's own
// source keeps working where it stays registered, and the bystander loses nothing.
import { afterEach, describe, expect, test } from 'vitest';
import type { ExceptionContext, Loop } from '../../src/loop.js';
import { Socket, socketpair } from '../../src/socket.js';
import type { Protocol, Transport } from '../../src/transports.js';
import { backends, openLoop } from '../loop/helpers.js';
import { track } from '../helpers/net.js';
import { withBystander } from './harness.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

type Reported = Array<[unknown, ExceptionContext]>;

/** Sets a handler that records what reaches it; returns the record. */
function record(loop: Loop): Reported {
  const seen: Reported = [];
  loop.setExceptionHandler((err, ctx) => void seen.push([err, ctx]));
  return seen;
}

/** Waits until `cond()` holds, in loop time. */
async function until(loop: Loop, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await sleep(2, loop);
  expect(cond()).toBe(true);
}

const phases: Array<[string, (loop: Loop, seen: Reported) => Promise<void>]> = [
  [
    'reader',
    async (loop, seen) => {
      const [a, b] = socketpair();
      a.send(Buffer.from('xy'));
      let calls = 0;
      loop.addReader(b, () => {
        if (++calls === 1) throw new Error('reader');
        b.recv(16);
        loop.removeReader(b);
      });
      await until(loop, () => calls === 2); // level-triggered: called again after it threw
      expect(seen[0][1].fd).toBe(b.fd);
      a.close();
      b.close();
    },
  ],
  [
    'writer',
    async (loop, seen) => {
      const [a, b] = socketpair();
      let calls = 0;
      loop.addWriter(a, () => {
        if (++calls === 1) throw new Error('writer');
        loop.removeWriter(a);
      });
      await until(loop, () => calls === 2);
      expect(seen[0][1].fd).toBe(a.fd);
      a.close();
      b.close();
    },
  ],
  [
    'timer',
    async (loop, seen) => {
      let after = false;
      loop.callLater(5, () => {
        throw new Error('timer');
      });
      loop.callLater(10, () => void (after = true));
      await until(loop, () => after);
      expect(seen[0][1].handle).toBeDefined();
    },
  ],
  [
    'callSoon',
    async (loop, seen) => {
      let after = false;
      loop.callSoon(() => {
        throw new Error('callSoon');
      });
      loop.callSoon(() => void (after = true));
      await until(loop, () => after);
      expect(seen[0][1].handle).toBeDefined();
    },
  ],
  [
    'signal handler',
    async (loop, seen) => {
      let calls = 0;
      loop.addSignalHandler('SIGUSR2', () => {
        if (++calls === 1) throw new Error('signal handler');
      });
      process.kill(process.pid, 'SIGUSR2');
      await until(loop, () => calls === 1);
      process.kill(process.pid, 'SIGUSR2');
      await until(loop, () => calls === 2); // still installed and running
      expect(seen[0][1].signal).toBe('SIGUSR2');
      loop.removeSignalHandler('SIGUSR2');
    },
  ],
];

type Site = 'connectionMade' | 'dataReceived' | 'eofReceived' | 'connectionLost';
const sites: Site[] = ['connectionMade', 'dataReceived', 'eofReceived', 'connectionLost'];

/** A protocol that throws in `site` (once its connection has sent something, for data and EOF). */
function throwingIn(site: Site): Protocol {
  let t!: Transport;
  return {
    connectionMade(tr) {
      t = tr;
      if (site === 'connectionMade') throw new Error(site);
    },
    dataReceived(d) {
      if (site === 'dataReceived') throw new Error(site);
      t.write(d);
    },
    eofReceived() {
      if (site === 'eofReceived') throw new Error(site);
    },
    connectionLost() {
      if (site === 'connectionLost') throw new Error(site);
    },
  };
}

describe.each(backends)('%s loop: a callback that throws', (backend) => {
  const open = () => openLoop(backend, 15_000);

  test.each(phases)('in a %s: reported with its context; the loop and the bystander go on', async (name, provoke) => {
    let seen: Reported = [];
    await withBystander(open, async (loop) => {
      seen = record(loop);
      await provoke(loop, seen);
    });
    expect(seen.map(([err]) => (err as Error).message)).toEqual([name]);
  });

  test.each(sites)(
    'in protocol.%s: reported; that connection ends with EOF at the client; the bystander goes on',
    async (site) => {
      let seen: Reported = [];
      await withBystander(open, async (loop) => {
        seen = record(loop);
        const srv = await loop.createServer(() => throwingIn(site), { host: '127.0.0.1', port: 0 });
        const c = track(Socket.tcp());
        await loop.sockConnect(c, srv.address);
        // (Sending to a connection whose connectionMade failed would race its close: bytes it never
        // read make the kernel answer with a RST instead of a FIN.)
        if (site !== 'connectionMade') await loop.sockSendAll(c, Buffer.from('hi'));
        if (site === 'eofReceived' || site === 'connectionLost') c.shutdown('write');
        for (;;) {
          const chunk = await loop.sockRecv(c, 64);
          if (chunk.length === 0) break;
        }
        c.close();
        srv.close();
        await srv.closed;
      });
      expect(seen.map(([err]) => (err as Error).message)).toEqual([site]);
    },
  );
});
