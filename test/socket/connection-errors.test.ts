// Connection failures have Node's error shape (DESIGN §3 errors; STYLE principle 4): a refused
// connect, a reset by the peer and a send into a closed connection throw `code`, a negative
// `errno` and `syscall`; and a send into a closed connection never raises SIGPIPE (MSG_NOSIGNAL),
// which the test proves by catching SIGPIPE through the loop while a write(2) control does raise it.
//
// Reset by peer without SO_LINGER 0: Linux answers with RST when a socket is closed while its
// receive queue still holds unread data (RFC 2525 §2.17; tcp_close() in net/ipv4/tcp.c).
import { constants as osConstants } from 'node:os';
import { afterEach, describe, expect, test } from 'vitest';
import { availableBackends } from '../../src/selectors.js';
import { native } from '../../src/native.js';
import { Socket } from '../../src/socket.js';
import { openLoop } from '../loop/helpers.js';
import {
  closeTracked,
  closedPort,
  connectedPair,
  ipv6LoopbackAvailable,
  rejectionOf,
  track,
  trackedPipe,
  unixPath,
  waitFor,
  waitReadable,
  waitWritable,
} from '../helpers/net.js';
import { EVENT_READ } from '../../src/selectors.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

const ipv6 = ipv6LoopbackAvailable();
type SysErr = Error & { code?: string; errno?: number; syscall?: string };

function thrown(fn: () => unknown): SysErr {
  try {
    fn();
  } catch (err) {
    return err as SysErr;
  }
  throw new Error('expected a throw');
}

/** connect + wait + finishConnect; returns what either step threw. */
function connectError(sock: Socket, address: Parameters<Socket['connect']>[0]): SysErr {
  return thrown(() => {
    if (!sock.connect(address)) {
      waitWritable(sock);
      sock.finishConnect();
    }
  });
}

describe('ECONNREFUSED', () => {
  test('connect to a closed IPv4 port: connect or finishConnect throws ECONNREFUSED (with its errno and syscall connect)', () => {
    const err = connectError(track(Socket.tcp()), { host: '127.0.0.1', port: closedPort() });
    expect(err.code).toBe('ECONNREFUSED');
    expect(err.errno).toBe(-osConstants.errno.ECONNREFUSED);
    expect(err.syscall).toBe('connect');
    expect(err.message).toBe('ECONNREFUSED: connection refused, connect');
  });

  test.runIf(ipv6)('connect to a closed IPv6 port on ::1 throws ECONNREFUSED', () => {
    const err = connectError(track(Socket.tcp6()), { host: '::1', port: closedPort('::1') });
    expect([err.code, err.errno, err.syscall]).toEqual(['ECONNREFUSED', -osConstants.errno.ECONNREFUSED, 'connect']);
  });

  test('connect to a Unix socket file nobody listens on throws ECONNREFUSED at once', () => {
    const path = unixPath();
    const bound = track(Socket.unix());
    bound.bind({ path });
    const err = thrown(() => track(Socket.unix()).connect({ path }));
    expect([err.code, err.errno, err.syscall]).toEqual(['ECONNREFUSED', -osConstants.errno.ECONNREFUSED, 'connect']);
  });

  test('connect to a Unix path that does not exist throws ENOENT', () => {
    const err = thrown(() => track(Socket.unix()).connect({ path: unixPath() }));
    expect([err.code, err.errno, err.syscall]).toEqual(['ENOENT', -osConstants.errno.ENOENT, 'connect']);
  });

  test.each(availableBackends())(
    '%s loop: sockConnect to a closed port rejects with ECONNREFUSED and leaves no registration',
    async (backend) => {
      const loop = openLoop(backend);
      const sock = track(Socket.tcp());
      const err = await loop.runUntilComplete(
        rejectionOf(loop.sockConnect(sock, { host: '127.0.0.1', port: closedPort() })),
      );
      expect([err.code, err.errno, err.syscall]).toEqual(['ECONNREFUSED', -osConstants.errno.ECONNREFUSED, 'connect']);
      sock.close();
      expect(loop.selector.getMap().size).toBe(0);
    },
  );
});

describe('Unix connect to a listener whose backlog is full', () => {
  // unix(7)/connect(2): a non-blocking connect to a full backlog fails with EAGAIN and is NOT
  // queued (unlike TCP's EINPROGRESS). Treating it as "in progress" made a later finishConnect()
  // or sockConnect() report success on a socket that never connected.
  test('connect throws EAGAIN instead of pretending the connection is in progress', () => {
    const path = unixPath();
    const l = track(Socket.unix());
    l.bind({ path });
    l.listen(0);
    const results: Array<boolean | string> = [];
    for (let i = 0; i < 4; i++) {
      const c = track(Socket.unix());
      try {
        results.push(c.connect({ path }));
      } catch (err) {
        results.push((err as SysErr).code!);
        expect((err as SysErr).syscall).toBe('connect');
      }
    }
    // Backlog 0 takes one connection; the kernel refuses the rest at once.
    expect(results[0]).toBe(true);
    expect(results.slice(1)).toEqual(['EAGAIN', 'EAGAIN', 'EAGAIN']);
  });

  test.each(availableBackends())(
    '%s loop: sockConnect rejects with EAGAIN rather than resolving unconnected',
    async (backend) => {
      const path = unixPath();
      const l = track(Socket.unix());
      l.bind({ path });
      l.listen(0);
      track(Socket.unix()).connect({ path }); // fills the backlog
      const loop = openLoop(backend);
      const sock = track(Socket.unix());
      const err = await loop.runUntilComplete(rejectionOf(loop.sockConnect(sock, { path })));
      expect(err.code).toBe('EAGAIN');
    },
  );
});

describe('reset by peer', () => {
  /** A TCP pair where `b` closed with unread data, so the kernel sent `a` a RST. */
  function resetPair(kind: 'tcp4' | 'tcp6'): Socket {
    const [a, b] = connectedPair(kind);
    expect(a.send(Buffer.from('never read'))).toBe(10);
    waitReadable(b);
    b.close();
    waitFor(a, EVENT_READ);
    return a;
  }

  for (const kind of ['tcp4', 'tcp6'] as const) {
    test.runIf(kind === 'tcp4' || ipv6)(
      `${kind}: recvInto throws ECONNRESET (syscall recv), then send fails with EPIPE`,
      () => {
        const a = resetPair(kind);
        const err = thrown(() => a.recvInto(Buffer.alloc(16)));
        expect([err.code, err.errno, err.syscall]).toEqual(['ECONNRESET', -osConstants.errno.ECONNRESET, 'recv']);
        const err2 = thrown(() => a.send(Buffer.from('more')));
        expect(err2.code).toBe('EPIPE');
        expect(err2.syscall).toBe('send');
      },
    );

    test.runIf(kind === 'tcp4' || ipv6)(
      `${kind}: send after the reset throws ECONNRESET or EPIPE (never returns)`,
      () => {
        const a = resetPair(kind);
        const err = thrown(() => a.send(Buffer.from('more')));
        expect(['ECONNRESET', 'EPIPE']).toContain(err.code);
        expect(err.syscall).toBe('send');
        expect(err.errno).toBeLessThan(0);
      },
    );
  }
});

describe('EPIPE without SIGPIPE', () => {
  test("TCP: send after our own shutdown('write') throws EPIPE (with its errno and syscall send)", () => {
    const [a] = connectedPair('tcp4');
    a.shutdown('write');
    const err = thrown(() => a.send(Buffer.from('late')));
    expect([err.code, err.errno, err.syscall]).toEqual(['EPIPE', -osConstants.errno.EPIPE, 'send']);
    expect(err.message).toBe('EPIPE: broken pipe, send');
  });

  test('socketpair: send after the peer closed throws EPIPE', () => {
    const [a, b] = connectedPair('socketpair');
    b.close();
    const err = thrown(() => a.send(Buffer.from('late')));
    expect([err.code, err.errno, err.syscall]).toEqual(['EPIPE', -osConstants.errno.EPIPE, 'send']);
  });

  test('TCP: sending on after the peer closed ends in EPIPE or ECONNRESET', () => {
    const [a, b] = connectedPair('tcp4');
    b.close();
    let err: SysErr | undefined;
    // The first send may succeed (the data goes out; the closed peer answers RST).
    for (let i = 0; i < 50 && err === undefined; i++) {
      try {
        a.send(Buffer.from('data'));
        waitFor(a, EVENT_READ, 20);
      } catch (e) {
        err = e as SysErr;
      }
    }
    expect(['EPIPE', 'ECONNRESET']).toContain(err?.code);
  });

  test.each(availableBackends())(
    '%s loop: no SIGPIPE reaches the process from a send into a closed connection',
    async (backend) => {
      // Node ignores SIGPIPE, which would hide it; a loop signal handler replaces that disposition,
      // so a SIGPIPE raised by send() would be counted here.
      const loop = openLoop(backend);
      let sigpipes = 0;
      loop.addSignalHandler('SIGPIPE', () => {
        sigpipes++;
      });
      const settle = () => {
        loop.callLater(30, () => {});
        return loop.run();
      };
      try {
        const [a, b] = connectedPair('socketpair');
        b.close();
        expect(thrown(() => a.send(Buffer.from('x'))).code).toBe('EPIPE');
        const [c] = connectedPair('tcp4');
        c.shutdown('write');
        expect(thrown(() => c.send(Buffer.from('x'))).code).toBe('EPIPE');
        await settle();
        expect(sigpipes).toBe(0);
        // Control: write(2) to a pipe without a reader does raise SIGPIPE, and the handler sees it.
        const [r, w] = trackedPipe();
        closeTracked(r);
        expect(native.write(w, Buffer.from('x'), 0, 1)).toBe(-osConstants.errno.EPIPE);
        await settle();
        expect(sigpipes).toBe(1);
      } finally {
        loop.removeSignalHandler('SIGPIPE');
      }
    },
  );
});
