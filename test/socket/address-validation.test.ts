// Address validation (STYLE principle 6 "say exactly what was wrong"): bind() and connect() refuse
// a bad address before any syscall, with a TypeError (wrong type, wrong kind of host) or a
// RangeError (out of range), a code, and a message naming the argument. A refused address
// leaves the socket open and usable.
import { afterEach, describe, expect, test } from 'vitest';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Socket } from '../../src/socket.js';
import { expectError } from '../helpers/fds.js';
import { ipv6LoopbackAvailable, listener, track, trackPath } from '../helpers/net.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

type Case = [
  what: string,
  address: unknown,
  Base: typeof TypeError | typeof RangeError,
  code: string,
  mentions: string,
];

const tcpCases: Case[] = [
  ['port below 0', { host: '127.0.0.1', port: -1 }, RangeError, 'ERR_INVALID_ARG_VALUE', "'address.port'"],
  ['port above 65535', { host: '127.0.0.1', port: 65536 }, RangeError, 'ERR_INVALID_ARG_VALUE', "'address.port'"],
  ['fractional port', { host: '127.0.0.1', port: 80.5 }, RangeError, 'ERR_INVALID_ARG_VALUE', "'address.port'"],
  ['NaN port', { host: '127.0.0.1', port: NaN }, RangeError, 'ERR_INVALID_ARG_VALUE', "'address.port'"],
  ['port as a string', { host: '127.0.0.1', port: '80' }, TypeError, 'ERR_INVALID_ARG_TYPE', "'address.port'"],
  ['missing port', { host: '127.0.0.1' }, TypeError, 'ERR_INVALID_ARG_TYPE', "'address.port'"],
  ['missing host', { port: 80 }, TypeError, 'ERR_INVALID_ARG_TYPE', "'address.host'"],
  ['host as a number', { host: 2130706433, port: 80 }, TypeError, 'ERR_INVALID_ARG_TYPE', "'address.host'"],
  ['a host name (no DNS here)', { host: 'example.com', port: 80 }, TypeError, 'ERR_INVALID_ARG_VALUE', 'no DNS'],
  ['an empty host', { host: '', port: 80 }, TypeError, 'ERR_INVALID_ARG_VALUE', "'address.host'"],
  ['an IPv6 address on an IPv4 socket', { host: '::1', port: 80 }, TypeError, 'ERR_INVALID_ARG_VALUE', 'IPv4'],
  ['a Unix path on a TCP socket', { path: '/tmp/x.sock' }, TypeError, 'ERR_INVALID_ARG_TYPE', "'address.host'"],
  ['null', null, TypeError, 'ERR_INVALID_ARG_TYPE', "'address'"],
  ['a "host:port" string', '127.0.0.1:80', TypeError, 'ERR_INVALID_ARG_TYPE', "'address'"],
  ['undefined', undefined, TypeError, 'ERR_INVALID_ARG_TYPE', "'address'"],
];

const tooLong = join(tmpdir(), 'x'.repeat(108 - tmpdir().length - 1)); // 108 bytes: no room for the NUL
const tooLongUtf8 = '/' + 'é'.repeat(54); // 109 bytes, but only 55 UTF-16 units

const unixCases: Case[] = [
  [
    'a path of 108 bytes (sun_path holds 107 and the NUL)',
    { path: tooLong },
    RangeError,
    'ERR_INVALID_ARG_VALUE',
    '107 bytes',
  ],
  [
    'a path short in characters but too long in UTF-8 bytes',
    { path: tooLongUtf8 },
    RangeError,
    'ERR_INVALID_ARG_VALUE',
    '107 bytes',
  ],
  ['a NUL byte in the path', { path: '/tmp/a\0b.sock' }, RangeError, 'ERR_INVALID_ARG_VALUE', 'NUL'],
  ['an empty path', { path: '' }, TypeError, 'ERR_INVALID_ARG_TYPE', "'address.path'"],
  ['missing path', {}, TypeError, 'ERR_INVALID_ARG_TYPE', "'address.path'"],
  [
    'a TCP address on a Unix socket',
    { host: '127.0.0.1', port: 80 },
    TypeError,
    'ERR_INVALID_ARG_TYPE',
    "'address.path'",
  ],
  ['null', null, TypeError, 'ERR_INVALID_ARG_TYPE', "'address'"],
];

describe.each([['bind'], ['connect']] as const)('%s() on an IPv4 socket refuses', (method) => {
  test.each(tcpCases)('%s', (_what, address, Base, code, mentions) => {
    const s = track(Socket.tcp());
    const err = expectError(() => s[method](address as never), Base, code);
    expect(err.message).toContain(mentions);
    expect(err.message).toMatch(/^The argument '[\w.]+' must be .+\. Received /);
    expect(s.closed).toBe(false);
  });
});

describe.each([['bind'], ['connect']] as const)('%s() on a Unix socket refuses', (method) => {
  test.each(unixCases)('%s', (_what, address, Base, code, mentions) => {
    const s = track(Socket.unix());
    const err = expectError(() => s[method](address as never), Base, code);
    expect(err.message).toContain(mentions);
    expect(s.closed).toBe(false);
  });
});

describe('accepted addresses', () => {
  test('a Unix path of exactly 107 bytes binds', () => {
    const path = trackPath(join(tmpdir(), `iomux-${process.pid}-`.padEnd(107 - tmpdir().length - 1, 'p')));
    expect(Buffer.byteLength(path)).toBe(107);
    const s = track(Socket.unix());
    s.bind({ path });
    expect(s.localAddress).toEqual({ path });
  });

  test.runIf(ipv6LoopbackAvailable())(
    'an IPv4 address on an IPv6 socket is refused; an IPv4-mapped IPv6 address is not',
    () => {
      const s = track(Socket.tcp6());
      expectError(() => s.bind({ host: '127.0.0.1', port: 0 }), TypeError, 'ERR_INVALID_ARG_VALUE');
      s.bind({ host: '::ffff:127.0.0.1', port: 0 });
      expect((s.localAddress as { host: string }).host).toBe('::ffff:127.0.0.1');
    },
  );

  test('ports 0 and 65535 are in range (0 picks a free port)', () => {
    const s = track(Socket.tcp());
    s.bind({ host: '127.0.0.1', port: 0 });
    expect((s.localAddress as { port: number }).port).toBeGreaterThan(0);
    const t = track(Socket.tcp());
    // 65535 passes validation; the bind itself may or may not be free, but must not be refused as invalid.
    try {
      t.bind({ host: '127.0.0.1', port: 65535 });
    } catch (err) {
      expect((err as { code?: string }).code).toBe('EADDRINUSE');
    }
  });

  test('after a refused address the socket still binds and listens', () => {
    const s = track(Socket.tcp());
    expectError(() => s.bind({ host: '127.0.0.1', port: -5 }), RangeError, 'ERR_INVALID_ARG_VALUE');
    s.bind({ host: '127.0.0.1', port: 0 });
    s.listen();
    expect(s.accept()).toBeNull();
  });
});

describe('other arguments', () => {
  test('new Socket() refuses a bad fd or family', () => {
    expectError(() => new Socket(-1, 'IPv4'), RangeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => new Socket(1.5, 'IPv4'), RangeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => new Socket(3, 'ipx' as never), TypeError, 'ERR_INVALID_ARG_VALUE');
  });

  test('listen() refuses a negative or fractional backlog', () => {
    const s = track(Socket.tcp());
    s.bind({ host: '127.0.0.1', port: 0 });
    expectError(() => s.listen(-1), RangeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => s.listen(1.5), RangeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => s.listen('5' as never), RangeError, 'ERR_INVALID_ARG_VALUE');
  });

  test("shutdown() refuses anything but 'read', 'write' or 'both'", () => {
    const l = listener('tcp4');
    expectError(() => l.shutdown('sideways' as never), TypeError, 'ERR_INVALID_ARG_VALUE');
  });

  test('recv(n) refuses a non-positive or fractional n', () => {
    const s = track(Socket.tcp());
    expectError(() => s.recv(0), RangeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => s.recv(-1), RangeError, 'ERR_INVALID_ARG_VALUE');
    expectError(() => s.recv(2.5), RangeError, 'ERR_INVALID_ARG_VALUE');
  });

  test('recvInto()/send() refuse an offset or length outside the buffer (RangeError)', () => {
    const s = track(Socket.tcp());
    const buf = Buffer.alloc(8);
    expect(() => s.recvInto(buf, 4, 5)).toThrow(RangeError);
    expect(() => s.recvInto(buf, 9)).toThrow(RangeError);
    expect(() => s.send(buf, -1)).toThrow(RangeError);
  });
});
