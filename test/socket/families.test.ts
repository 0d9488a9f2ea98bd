// Socket families (DESIGN §3 "Socket", issue #3 item 2): TCP over IPv4 and IPv6 loopback, Unix
// stream sockets, socketpair() and pipe() all carry bytes both ways intact, report their local and
// remote addresses, read EOF as 0, half-close with shutdown('write'), and are made non-blocking and
// close-on-exec. IPv6 tests skip (saying so in their name) only if ::1 cannot be bound here.
import { afterEach, describe, expect, test } from 'vitest';
import { Socket, socketpair } from '../../src/socket.js';
import { pipe } from '../../src/pipe.js';
import {
  O_CLOEXEC,
  O_NONBLOCK,
  acceptFrom,
  connectTo,
  connectedPair,
  fdFlags,
  ipv6LoopbackAvailable,
  listener,
  pattern,
  track,
  unixPath,
  waitFor,
  waitReadable,
  type PairKind,
} from '../helpers/net.js';
import { EVENT_READ, EVENT_WRITE } from '../../src/selectors.js';
import { cleanup, openFdCount } from '../helpers/resources.js';

afterEach(cleanup);

const ipv6 = ipv6LoopbackAvailable();
const kinds: PairKind[] = ['tcp4', 'tcp6', 'unix', 'socketpair'];
const title = (kind: PairKind) =>
  kind === 'tcp6' && !ipv6 ? 'tcp6 (SKIPPED: IPv6 loopback ::1 cannot be bound on this machine)' : kind;

/** Moves all of `data` from `from` to `to` with non-blocking calls, waiting (bounded) when stuck. */
function transfer(from: Socket, to: Socket, data: Buffer): Buffer {
  const got = Buffer.alloc(data.length);
  let sent = 0;
  let received = 0;
  const deadline = Date.now() + 5000;
  while (received < data.length) {
    if (Date.now() > deadline) throw new Error(`transfer stuck at ${received}/${data.length} bytes`);
    if (sent < data.length) sent += from.send(data, sent) ?? 0;
    const n = to.recvInto(got, received);
    if (n === 0) throw new Error('unexpected EOF');
    if (n !== null) received += n;
    else waitFor(to, EVENT_READ, 50);
  }
  return got;
}

describe.each(kinds.map(title))('%s sockets', (label) => {
  const kind = label.split(' ')[0] as PairKind;
  const run = kind !== 'tcp6' || ipv6;

  test.runIf(run)('carry 4 MiB each way intact, in both directions at once', () => {
    const [a, b] = connectedPair(kind);
    const ab = pattern(4 << 20, 1);
    const ba = pattern(4 << 20, 2);
    expect(transfer(a, b, ab).equals(ab)).toBe(true);
    expect(transfer(b, a, ba).equals(ba)).toBe(true);
  });

  test.runIf(run)('recvInto honours offset and length; send honours offset and length', () => {
    const [a, b] = connectedPair(kind);
    expect(a.send(Buffer.from('xxhello worldyy'), 2, 11)).toBe(11);
    waitReadable(b);
    const buf = Buffer.alloc(20, '.');
    expect(b.recvInto(buf, 3, 5)).toBe(5);
    expect(b.recvInto(buf, 8)).toBe(6);
    expect(buf.toString()).toBe('...hello world......');
  });

  test.runIf(run)('recv(n) returns a Buffer of at most n bytes, and an empty one at EOF', () => {
    const [a, b] = connectedPair(kind);
    a.send(Buffer.from('abcdef'));
    waitReadable(b);
    expect(b.recv(4)?.toString()).toBe('abcd');
    expect(b.recv(100)?.toString()).toBe('ef');
    a.close();
    waitReadable(b);
    expect(b.recv(10)?.length).toBe(0);
  });

  test.runIf(run)('EOF reads as 0, again and again, after the peer closes', () => {
    const [a, b] = connectedPair(kind);
    a.send(Buffer.from('last words'));
    a.close();
    waitReadable(b);
    const buf = Buffer.alloc(64);
    expect(b.recvInto(buf)).toBe(10);
    expect(b.recvInto(buf)).toBe(0);
    expect(b.recvInto(buf)).toBe(0);
  });

  test.runIf(run)("half-close: after shutdown('write') the peer reads EOF and can still send back", () => {
    const [a, b] = connectedPair(kind);
    a.send(Buffer.from('request'));
    a.shutdown('write');
    waitReadable(b);
    const buf = Buffer.alloc(64);
    expect(b.recvInto(buf)).toBe(7);
    expect(b.recvInto(buf)).toBe(0);
    expect(b.send(Buffer.from('response'))).toBe(8);
    b.shutdown('write');
    waitReadable(a);
    expect(a.recvInto(buf)).toBe(8);
    expect(buf.subarray(0, 8).toString()).toBe('response');
    expect(a.recvInto(buf)).toBe(0);
  });

  test.runIf(run)('are non-blocking and close-on-exec', () => {
    const [a, b] = connectedPair(kind);
    for (const s of [a, b]) expect(fdFlags(s.fd) & (O_NONBLOCK | O_CLOEXEC)).toBe(O_NONBLOCK | O_CLOEXEC);
  });

  test.runIf(run)('fd and fileno() name the same open descriptor; the family is reported', () => {
    const [a] = connectedPair(kind);
    expect(a.fileno()).toBe(a.fd);
    expect(a.closed).toBe(false);
    expect(a.family).toBe(kind === 'tcp4' ? 'IPv4' : kind === 'tcp6' ? 'IPv6' : 'unix');
  });
});

describe('addresses', () => {
  test('TCP over IPv4: localAddress and remoteAddress mirror each other', () => {
    const l = listener('tcp4');
    const port = (l.localAddress as { port: number }).port;
    expect(l.localAddress).toEqual({ host: '127.0.0.1', port });
    expect(port).toBeGreaterThan(0);
    const c = connectTo(l);
    const s = acceptFrom(l);
    expect(c.remoteAddress).toEqual({ host: '127.0.0.1', port });
    expect(s.localAddress).toEqual({ host: '127.0.0.1', port });
    expect(s.remoteAddress).toEqual(c.localAddress);
    expect(s.family).toBe('IPv4');
  });

  test.runIf(ipv6)('TCP over IPv6 (::1): localAddress and remoteAddress mirror each other', () => {
    const l = listener('tcp6');
    const port = (l.localAddress as { port: number }).port;
    expect(l.localAddress).toEqual({ host: '::1', port });
    const c = connectTo(l);
    const s = acceptFrom(l);
    expect(c.remoteAddress).toEqual({ host: '::1', port });
    expect(s.remoteAddress).toEqual(c.localAddress);
    expect(s.family).toBe('IPv6');
  });

  test("'localhost' means 127.0.0.1 on an IPv4 socket and ::1 on an IPv6 one", () => {
    const a = track(Socket.tcp());
    a.bind({ host: 'localhost', port: 0 });
    expect((a.localAddress as { host: string }).host).toBe('127.0.0.1');
    if (ipv6) {
      const b = track(Socket.tcp6());
      b.bind({ host: 'localhost', port: 0 });
      expect((b.localAddress as { host: string }).host).toBe('::1');
    }
  });

  test('Unix stream sockets: the listener and the accepted socket report the path; the client is unnamed', () => {
    const path = unixPath();
    const l = track(Socket.unix());
    l.bind({ path });
    l.listen();
    expect(l.localAddress).toEqual({ path });
    const c = connectTo(l);
    const s = acceptFrom(l);
    expect(c.remoteAddress).toEqual({ path });
    expect(s.localAddress).toEqual({ path });
    expect(c.localAddress).toEqual({ path: '' });
  });

  test('Socket.forHost picks the family of the address', () => {
    const a = track(Socket.forHost('127.0.0.1'));
    const b = track(Socket.forHost('localhost'));
    const c = track(Socket.forHost('::1'));
    expect([a.family, b.family, c.family]).toEqual(['IPv4', 'IPv4', 'IPv6']);
  });
});

describe('socketpair() and pipe()', () => {
  test('socketpair(): two connected, unnamed Unix stream sockets', () => {
    const [a, b] = socketpair();
    track(a);
    track(b);
    expect([a.family, b.family]).toEqual(['unix', 'unix']);
    expect(a.localAddress).toEqual({ path: '' });
    expect(a.remoteAddress).toEqual({ path: '' });
    expect(a.send(Buffer.from('ping'))).toBe(4);
    expect(b.recv(10)?.toString()).toBe('ping');
    expect(b.send(Buffer.from('pong'))).toBe(4);
    expect(a.recv(10)?.toString()).toBe('pong');
  });

  test('pipe(): [read end, write end], non-blocking, close-on-exec; EOF once the write end closes', () => {
    const before = openFdCount();
    const [r, w] = pipe();
    try {
      expect(openFdCount()).toBe(before + 2);
      for (const end of [r, w]) expect(fdFlags(end.fd) & (O_NONBLOCK | O_CLOEXEC)).toBe(O_NONBLOCK | O_CLOEXEC);
      const buf = Buffer.alloc(16);
      expect(r.readInto(buf)).toBeNull(); // would block: non-blocking, not a hang
      expect(waitFor(w.fd, EVENT_WRITE, 0)).toBe(EVENT_WRITE);
      expect(w.write(Buffer.from('through'))).toBe(7);
      expect(r.readInto(buf)).toBe(7);
      expect(buf.subarray(0, 7).toString()).toBe('through');
      w.close();
      expect(r.readInto(buf)).toBe(0);
    } finally {
      r.close();
      w.close();
    }
    expect(openFdCount()).toBe(before);
  });
});
