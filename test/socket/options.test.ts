// Socket options (DESIGN §3 "Socket"): setNoDelay, setReuseAddress and setReusePort set the kernel
// option (read back with getsockopt), can be turned off again, and do what they are for: with
// SO_REUSEPORT two listeners share one port; without it the second bind fails with EADDRINUSE.
import { constants as osConstants } from 'node:os';
import { afterEach, describe, expect, test } from 'vitest';
import { native } from '../../src/native.js';
import { Socket } from '../../src/socket.js';
import { acceptFrom, connectTo, connectedPair, listener, track } from '../helpers/net.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

const C = native.constants;
const opt = (s: Socket, level: number, name: number) => native.getsockopt(s.fd, level, name);

describe('socket options', () => {
  test('setNoDelay() sets TCP_NODELAY; setNoDelay(false) clears it', () => {
    const [a] = connectedPair('tcp4');
    expect(opt(a, C.IPPROTO_TCP, C.TCP_NODELAY)).toBe(0);
    a.setNoDelay();
    expect(opt(a, C.IPPROTO_TCP, C.TCP_NODELAY)).toBe(1);
    a.setNoDelay(false);
    expect(opt(a, C.IPPROTO_TCP, C.TCP_NODELAY)).toBe(0);
  });

  test('sendQueueSize() counts bytes the peer has not read yet, and falls to 0 once it has', () => {
    const [a, b] = connectedPair('unix');
    expect(a.sendQueueSize()).toBe(0);
    expect(a.send(Buffer.alloc(1000, 1))).toBe(1000);
    expect(a.sendQueueSize()).toBeGreaterThan(0);
    expect(b.recvInto(Buffer.alloc(2000))).toBe(1000);
    expect(a.sendQueueSize()).toBe(0);
    a.close();
    expect(() => a.sendQueueSize()).toThrow(expect.objectContaining({ code: 'ERR_SOCKET_CLOSED' }));
  });

  test('setReuseAddress() sets SO_REUSEADDR; setReuseAddress(false) clears it', () => {
    const s = track(Socket.tcp());
    expect(opt(s, C.SOL_SOCKET, C.SO_REUSEADDR)).toBe(0);
    s.setReuseAddress();
    expect(opt(s, C.SOL_SOCKET, C.SO_REUSEADDR)).toBe(1);
    s.setReuseAddress(false);
    expect(opt(s, C.SOL_SOCKET, C.SO_REUSEADDR)).toBe(0);
  });

  test('setReusePort() sets SO_REUSEPORT', () => {
    const s = track(Socket.tcp());
    s.setReusePort();
    expect(opt(s, C.SOL_SOCKET, C.SO_REUSEPORT!)).toBe(1);
    s.setReusePort(false);
    expect(opt(s, C.SOL_SOCKET, C.SO_REUSEPORT!)).toBe(0);
  });

  test('with setReusePort() two listeners bind and listen on the same port, and both accept', () => {
    const a = track(Socket.tcp());
    a.setReusePort();
    a.bind({ host: '127.0.0.1', port: 0 });
    a.listen();
    const port = (a.localAddress as { port: number }).port;
    const b = track(Socket.tcp());
    b.setReusePort();
    b.bind({ host: '127.0.0.1', port });
    b.listen();
    expect(b.localAddress).toEqual(a.localAddress);
    // The kernel spreads connections over both by hash; enough of them reach each.
    for (let i = 0; i < 32; i++) connectTo(a);
    let accepted = 0;
    for (const l of [a, b]) {
      for (let c = l.accept(); c !== null; c = l.accept()) {
        track(c);
        accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(0);
  });

  test('without SO_REUSEPORT a second bind to the same port fails with EADDRINUSE', () => {
    const a = listener('tcp4');
    const b = track(Socket.tcp());
    expect(() => b.bind(a.localAddress)).toThrow(
      expect.objectContaining({ code: 'EADDRINUSE', syscall: 'bind', errno: -osConstants.errno.EADDRINUSE }),
    );
  });

  test('setNoDelay() on a Unix socket fails with the kernel error (ENOTSUP), not silently', () => {
    const [a] = connectedPair('unix');
    // EOPNOTSUPP and ENOTSUP are both 95 on Linux; Node names it ENOTSUP.
    expect(() => a.setNoDelay()).toThrow(
      expect.objectContaining({ code: 'ENOTSUP', errno: -osConstants.errno.ENOTSUP, syscall: 'setsockopt' }),
    );
  });

  test('accepted sockets inherit nothing surprising: they start without TCP_NODELAY', () => {
    const l = listener('tcp4');
    connectTo(l);
    const s = acceptFrom(l);
    expect(opt(s, C.IPPROTO_TCP, C.TCP_NODELAY)).toBe(0);
  });
});
