// async/await over datagram sockets: sockSendTo and sockRecvFrom, on aio.ts's waiting machinery
// (try the syscall first, wait only when it would block, `{ signal, timeout }` as everywhere).
import type { Loop } from './loop.js';
import type { HostPort, ReceivedDatagram, Socket } from './socket.js';
import { checkBuffer, toBytes } from './bytes.js';
import { checkWaitOptions, guarded, type WaitOptions } from './wait-options.js';
import { SENT, checkSocket, idleWaiters, waitOn } from './aio.js';

/** Sends one datagram to `address`, waiting for room in the kernel's buffer if need be. */
export function sockSendTo(
  loop: Loop,
  sock: Socket,
  data: Uint8Array | string,
  address: HostPort,
  opts?: WaitOptions,
): Promise<void> {
  try {
    checkSocket(sock);
    const bytes = toBytes('data', data);
    const w = idleWaiters(loop, sock, 'write');
    const checked = checkWaitOptions(opts);
    // A socket that had its run of immediate completions yields first (aio.ts, "Fairness").
    const mayRun = w.mayRunNow();
    if (mayRun && checked === undefined && sock.sendTo(bytes, address) !== null) return SENT;
    return guarded(loop, checked, 'sendto', async (guard) => {
      if (!mayRun) await waitOn(guard, w, 'write', () => w.yieldWrite());
      while (sock.sendTo(bytes, address) === null) await waitOn(guard, w, 'write', () => w.waitWritable());
    });
  } catch (err) {
    return Promise.reject(err);
  }
}

/** Receives one datagram into `buf`; resolves with its size and sender. */
export function sockRecvFrom(loop: Loop, sock: Socket, buf: Uint8Array, opts?: WaitOptions): Promise<ReceivedDatagram> {
  try {
    checkSocket(sock);
    checkBuffer('buf', buf);
    const w = idleWaiters(loop, sock, 'read');
    return guarded(loop, checkWaitOptions(opts), 'recvfrom', async (guard) => {
      for (;;) {
        if (w.mayRunNow()) {
          const got = sock.recvFrom(buf);
          if (got !== null) return got;
        }
        await waitOn(guard, w, 'read', () => w.waitReadable());
      }
    });
  } catch (err) {
    return Promise.reject(err);
  }
}
