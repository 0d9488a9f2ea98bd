// Fault matrix (issue 9, proof 5): connects that fail. Refused (nobody listens on the port) and
// timed out. There is no connect timeout in the aio layer yet, so "timed out" is what a caller
// builds with a loop timer: the connect goes to a loopback listener whose accept queue is full
// (backlog 0, never accepting), where the kernel drops the SYN and the handshake cannot finish;
// after 100 ms a loop timer closes the socket, which rejects the waiting connect with
// ERR_SOCKET_CLOSED and unregisters its fd. No packet leaves the machine.
import { afterEach, describe, expect, test } from 'vitest';
import { Socket } from '../../src/socket.js';
import { backends, openLoop } from '../loop/helpers.js';
import { Recorder, closedPort, listener, rejectionOf, track } from '../helpers/net.js';
import { withBystander } from './harness.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

describe.each(backends)('%s loop: connects that fail', (backend) => {
  const open = () => openLoop(backend, 15_000);

  test('refused: sockConnect and createConnection reject with ECONNREFUSED, 20 times, leaking nothing', async () => {
    await withBystander(open, async (loop) => {
      for (let i = 0; i < 20; i++) {
        const s = Socket.tcp();
        const err = await rejectionOf(loop.sockConnect(s, { host: '127.0.0.1', port: closedPort() }));
        expect([err.code, err.syscall]).toEqual(['ECONNREFUSED', 'connect']);
        s.close();
        const err2 = await rejectionOf(
          loop.createConnection(() => new Recorder(), { host: '127.0.0.1', port: closedPort() }),
        );
        expect(err2.code).toBe('ECONNREFUSED');
      }
      expect(loop.selector.getMap().size).toBeLessThanOrEqual(4); // the bystander's fds only
    });
  });

  test('timed out: a connect to a full accept queue, given up by a loop timer, rejects and leaks nothing', async () => {
    await withBystander(open, async (loop) => {
      const l = listener('tcp4', 0);
      // Fill the accept queue (backlog 0 still queues one) and the SYN queue behind it.
      const fillers = Array.from({ length: 4 }, () => track(Socket.tcp()));
      for (const f of fillers) f.connect(l.localAddress);
      const attempts = [];
      for (let i = 0; i < 5; i++) {
        const s = Socket.tcp();
        const connecting = rejectionOf(loop.sockConnect(s, l.localAddress));
        const timer = loop.callLater(100, () => s.close());
        attempts.push(
          connecting.then((err) => {
            timer.cancel();
            return err.code;
          }),
        );
      }
      expect(await Promise.all(attempts)).toEqual(Array(5).fill('ERR_SOCKET_CLOSED'));
      for (const f of fillers) f.close();
      l.close();
    });
  });
});
