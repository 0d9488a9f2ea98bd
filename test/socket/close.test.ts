// Closing (DESIGN §3 "Socket"; STYLE principle 10 "every test closes what it opened"): after
// close() every method but close() throws ERR_SOCKET_CLOSED and the fd reads -1; closing twice
// does nothing; the fd goes back to the kernel; and making, connecting and closing sockets of
// every kind leaves the process's fd table as it was.
import { constants as osConstants } from 'node:os';
import { afterEach, describe, expect, test } from 'vitest';
import { native } from '../../src/native.js';
import { Socket, socketpair } from '../../src/socket.js';
import { kBeforeClose } from '../../src/close-hooks.js';
import { expectError } from '../helpers/fds.js';
import { connectedPair, ipv6LoopbackAvailable, listener, track, type PairKind } from '../helpers/net.js';
import { cleanup, openFdCount } from '../helpers/resources.js';

afterEach(cleanup);

const calls: Array<[string, (s: Socket) => unknown]> = [
  ['fileno()', (s) => s.fileno()],
  ['bind()', (s) => s.bind({ host: '127.0.0.1', port: 0 })],
  ['listen()', (s) => s.listen()],
  ['accept()', (s) => s.accept()],
  ['connect()', (s) => s.connect({ host: '127.0.0.1', port: 9 })],
  ['finishConnect()', (s) => s.finishConnect()],
  ['recvInto()', (s) => s.recvInto(Buffer.alloc(4))],
  ['recv()', (s) => s.recv(4)],
  ['send()', (s) => s.send(Buffer.from('x'))],
  ['shutdown()', (s) => s.shutdown()],
  ['localAddress', (s) => s.localAddress],
  ['remoteAddress', (s) => s.remoteAddress],
  ['setNoDelay()', (s) => s.setNoDelay()],
  ['setReuseAddress()', (s) => s.setReuseAddress()],
  ['setReusePort()', (s) => s.setReusePort()],
];

describe('a closed socket', () => {
  test.each(calls)('%s throws ERR_SOCKET_CLOSED', (_name, call) => {
    const [a] = connectedPair('tcp4');
    a.close();
    const err = expectError(() => call(a), Error, 'ERR_SOCKET_CLOSED');
    expect(err.message).toMatch(/closed/);
  });

  test('reads fd -1 and closed === true', () => {
    const s = track(Socket.tcp());
    expect(s.fd).toBeGreaterThanOrEqual(0);
    s.close();
    expect(s.fd).toBe(-1);
    expect(s.closed).toBe(true);
  });

  test('closing twice (and disposing after close) does nothing', () => {
    const s = Socket.tcp();
    s.close();
    expect(() => s.close()).not.toThrow();
    expect(() => s[Symbol.dispose]()).not.toThrow();
  });

  test('close() gives the fd back: a new fd reuses its number, and the old Socket cannot touch it', () => {
    const s = Socket.tcp();
    const fd = s.fd;
    s.close();
    const [a, b] = socketpair();
    track(a);
    track(b);
    expect([a.fd, b.fd]).toContain(fd);
    s.close(); // must not close the new owner's fd
    expect(native.getsockname(fd)).not.toBeTypeOf('number');
  });

  test('`using` closes the socket at the end of the block', () => {
    let fd = -1;
    {
      using s = Socket.tcp();
      fd = s.fd;
    }
    expect(native.close(fd)).toBe(-osConstants.errno.EBADF); // already closed
  });

  test('the before-close hook runs while the fd is still open, once', () => {
    const s = Socket.tcp();
    const seen: number[] = [];
    s[kBeforeClose] = () =>
      void seen.push(native.getsockopt(s.fd, native.constants.SOL_SOCKET, native.constants.SO_ERROR));
    s.close();
    s.close();
    expect(seen).toEqual([0]); // one call, and getsockopt worked (not -EBADF)
  });

  test('close() releases the fd even if the before-close hook throws', () => {
    const s = Socket.tcp();
    const fd = s.fd;
    s[kBeforeClose] = () => {
      throw new Error('hook failed');
    };
    expect(() => s.close()).toThrow('hook failed');
    expect(s.closed).toBe(true);
    expect(native.close(fd)).toBe(-osConstants.errno.EBADF); // the fd was released anyway
  });
});

describe('no fd leaks', () => {
  const ipv6 = ipv6LoopbackAvailable();
  const kinds = (['tcp4', 'tcp6', 'unix', 'socketpair'] as PairKind[]).filter((k) => k !== 'tcp6' || ipv6);

  test.each(kinds)('%s: 200 connected pairs made and closed leave the fd count unchanged', async (kind) => {
    const before = openFdCount();
    for (let i = 0; i < 200; i++) {
      const [a, b] = connectedPair(kind);
      // Proves the count sees a leak: the two ends are open fds right now.
      if (i === 0) expect(openFdCount()).toBe(before + 2);
      a.send(Buffer.from('bye'));
      a.close();
      b.close();
    }
    await cleanup();
    expect(openFdCount()).toBe(before);
  });

  test('failed connects and binds leave nothing behind', async () => {
    const before = openFdCount();
    for (let i = 0; i < 100; i++) {
      const s = Socket.tcp();
      expect(() => s.bind({ host: 'nope', port: 1 })).toThrow(TypeError);
      s.close();
      const l = listener('tcp4');
      const t = Socket.tcp();
      expect(() => t.bind(l.localAddress)).toThrow(/EADDRINUSE/);
      t.close();
      l.close();
    }
    await cleanup();
    expect(openFdCount()).toBe(before);
  });
});
