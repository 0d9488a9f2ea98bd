// Fault matrix (issue 9, proof 5): close and stop from inside callbacks. stop() from a reader, a
// writer, a timer, a callSoon callback, a signal handler or a protocol callback ends run() after
// that iteration, and the next run() carries on where it left off: the bystander's transfer,
// begun before the stop, finishes intact. loop.close() from inside a callback is refused
// (ERR_LOOP_RUNNING, to the exception handler) and the loop goes on. Transports and servers closed
// or aborted from inside their own callbacks end cleanly. fds back at baseline every time.
import { afterEach, describe, expect, test } from 'vitest';
import type { Loop } from '../../src/loop.js';
import { Socket, socketpair } from '../../src/socket.js';
import type { Protocol, Transport } from '../../src/transports.js';

import { backends, openLoop } from '../loop/helpers.js';
import { rejectionOf, track } from '../helpers/net.js';
import { Bystander, withBystander } from './harness.js';
import { cleanup, openFdCount } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

afterEach(cleanup);

/** Arms a callback of one kind that calls loop.stop() once; returns its undo. */
const stoppers: Array<[string, (loop: Loop, stopped: () => void) => () => void]> = [
  [
    'reader',
    (loop, stopped) => {
      const [a, b] = socketpair();
      a.send(Buffer.from('x'));
      loop.addReader(b, () => {
        b.recv(8);
        loop.removeReader(b);
        loop.stop();
        stopped();
      });
      return () => {
        a.close();
        b.close();
      };
    },
  ],
  [
    'writer',
    (loop, stopped) => {
      const [a, b] = socketpair();
      loop.addWriter(a, () => {
        loop.removeWriter(a);
        loop.stop();
        stopped();
      });
      return () => {
        a.close();
        b.close();
      };
    },
  ],
  [
    'timer',
    (loop, stopped) => {
      loop.callLater(0, () => {
        loop.stop();
        stopped();
      });
      return () => {};
    },
  ],
  [
    'callSoon',
    (loop, stopped) => {
      loop.callSoon(() => {
        loop.stop();
        stopped();
      });
      return () => {};
    },
  ],
  [
    'signal handler',
    (loop, stopped) => {
      loop.addSignalHandler('SIGUSR2', () => {
        loop.stop();
        stopped();
      });
      process.kill(process.pid, 'SIGUSR2');
      return () => void loop.removeSignalHandler('SIGUSR2');
    },
  ],
  [
    'protocol callback',
    (loop, stopped) => {
      let srv: { close(): void } | undefined;
      const c = track(Socket.tcp());
      void loop
        .createServer(
          () => ({
            dataReceived() {
              loop.stop();
              stopped();
            },
          }),
          { host: '127.0.0.1', port: 0 },
        )
        .then((s) => {
          srv = s;
          c.connect(s.address);
          c.send(Buffer.from('stop please'));
        });
      return () => {
        c.close();
        srv?.close();
      };
    },
  ],
];

describe.each(backends)('%s loop: stop and close from inside callbacks', (backend) => {
  test.each(stoppers)(
    "stop() in a %s ends run(); the next run() finishes the bystander's transfer intact",
    async (_name, arm) => {
      const baseline = openFdCount();
      const loop = openLoop(backend, 15_000);
      const by = await Bystander.start(loop);
      const during = by.exchange(2 << 20);
      let stops = 0;
      const undo = arm(loop, () => {
        stops++;
      });
      const err = await rejectionOf(loop.runUntilComplete(during));
      expect(err.code).toBe('ERR_LOOP_STOPPED');
      expect(stops).toBe(1);
      await loop.runUntilComplete(during);
      await loop.runUntilComplete(by.exchange(64 * 1024));
      expect(stops).toBe(1);
      undo();
      await loop.runUntilComplete(sleep(5, loop)); // the protocol case's server side sees the close
      await by.close();
      loop.close();
      expect(openFdCount()).toBe(baseline);
    },
  );

  test('close() inside a callback is refused with ERR_LOOP_RUNNING; the loop goes on and closes afterwards', async () => {
    const seen: unknown[] = [];
    await withBystander(
      () => openLoop(backend, 15_000),
      async (loop) => {
        loop.setExceptionHandler((e) => void seen.push(e));
        loop.callSoon(() => loop.close());
        await sleep(5, loop);
        expect(loop.closed).toBe(false);
      },
    );
    expect(seen.map((e) => (e as { code?: string }).code)).toEqual(['ERR_LOOP_RUNNING']);
  });

  const selfClosing: Array<[string, (srv: () => { close(): void; closeConnections(): void }) => Protocol, boolean]> = [
    [
      'abort() in connectionMade',
      () => ({
        connectionMade(t) {
          t.abort();
        },
      }),
      false,
    ],
    [
      'write() then close() in dataReceived',
      () => {
        let t!: Transport;
        return {
          connectionMade(tr) {
            t = tr;
          },
          dataReceived(d) {
            t.write(d);
            t.close();
          },
        };
      },
      true,
    ],
    [
      'close() in eofReceived, returning true',
      () => {
        let t!: Transport;
        return {
          connectionMade(tr) {
            t = tr;
          },
          eofReceived() {
            t.close();
            return true;
          },
        };
      },
      true,
    ],
    [
      'server.close() and closeConnections() in dataReceived',
      (srv) => {
        let t!: Transport;
        return {
          connectionMade(tr) {
            t = tr;
          },
          dataReceived(d) {
            t.write(d);
            srv().close();
            srv().closeConnections();
          },
        };
      },
      true,
    ],
  ];

  test.each(selfClosing)('%s: the client gets its echo (if any) and EOF; nothing leaks', async (name, make, echoes) => {
    await withBystander(
      () => openLoop(backend, 15_000),
      async (loop) => {
        let server: { close(): void; closeConnections(): void } | undefined;
        const srv = await loop.createServer(() => make(() => server!), { host: '127.0.0.1', port: 0 });
        server = srv;
        const c = track(Socket.tcp());
        await loop.sockConnect(c, srv.address);
        if (echoes) {
          await loop.sockSendAll(c, Buffer.from('ping'));
          if (name.includes('eofReceived')) c.shutdown('write');
        }
        let got = '';
        for (;;) {
          const chunk = await loop.sockRecv(c, 64);
          if (chunk.length === 0) break;
          got += chunk.toString();
        }
        expect(got).toBe(echoes && !name.includes('eofReceived') ? 'ping' : '');
        c.close();
        srv.close();
        await srv.closed;
        if (name.startsWith('server.close')) {
          // It stopped listening from inside its own callback: a new connect is refused.
          const again = Socket.tcp();
          const err = await rejectionOf(loop.sockConnect(again, srv.address));
          expect(err.code).toBe('ECONNREFUSED');
          again.close();
        }
      },
    );
  });
});
