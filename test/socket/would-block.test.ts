// Would-block is an answer, not an error (DESIGN §3 "Socket"; src/socket.ts header): accept() with
// no pending connection, recvInto()/recv() with no data and send() into a full buffer return null
// and never throw, on every family; and the socket works normally once the kernel is ready.
import { afterEach, describe, expect, test } from 'vitest';
import { EVENT_WRITE } from '../../src/selectors.js';
import {
  connectTo,
  connectedPair,
  drainSocket,
  fillSocket,
  ipv6LoopbackAvailable,
  listener,
  waitFor,
  waitReadable,
  waitWritable,
  type PairKind,
} from '../helpers/net.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

const ipv6 = ipv6LoopbackAvailable();
const kinds = (['tcp4', 'tcp6', 'unix', 'socketpair'] as PairKind[]).filter((k) => k !== 'tcp6' || ipv6);
if (!ipv6) console.warn('would-block: IPv6 cases SKIPPED: IPv6 loopback ::1 cannot be bound on this machine');

describe.each(kinds.filter((k): k is Exclude<PairKind, 'socketpair'> => k !== 'socketpair'))('%s listener', (kind) => {
  test('accept() with no pending connection returns null, repeatedly, then a connection once one arrives', () => {
    const l = listener(kind);
    expect(l.accept()).toBeNull();
    expect(l.accept()).toBeNull();
    connectTo(l);
    waitReadable(l);
    const conn = l.accept();
    expect(conn).not.toBeNull();
    conn!.close();
    expect(l.accept()).toBeNull();
  });
});

describe.each(kinds)('%s connection', (kind) => {
  test('recvInto() and recv() with no data return null, never throw', () => {
    const [a, b] = connectedPair(kind);
    const buf = Buffer.alloc(64);
    for (let i = 0; i < 3; i++) {
      expect(b.recvInto(buf)).toBeNull();
      expect(b.recv(10)).toBeNull();
      expect(a.recvInto(buf, 10, 5)).toBeNull();
    }
    a.send(Buffer.from('now'));
    waitReadable(b);
    expect(b.recvInto(buf)).toBe(3);
    expect(b.recvInto(buf)).toBeNull();
  });

  test('send() into a full buffer returns null, never throws, and goes on once the peer reads', () => {
    const [a, b] = connectedPair(kind);
    const took = fillSocket(a);
    expect(took).toBeGreaterThan(0);
    const small = Buffer.from('x');
    for (let i = 0; i < 3; i++) expect(a.send(small)).toBeNull();
    expect(waitFor(a, EVENT_WRITE, 0)).toBe(0); // the selector agrees: not writable
    // The peer drains everything in flight; the sender gets room again.
    let drained = 0;
    const deadline = Date.now() + 5000;
    while (drained < took) {
      if (Date.now() > deadline) throw new Error(`drained only ${drained} of ${took}`);
      waitReadable(b);
      drained += drainSocket(b)[0];
    }
    expect(drained).toBe(took);
    waitWritable(a);
    expect(a.send(small)).toBe(1);
  });

  test('a zero-length send or receive returns 0 without touching the stream', () => {
    const [a, b] = connectedPair(kind);
    expect(a.send(Buffer.alloc(0))).toBe(0);
    a.send(Buffer.from('z'));
    waitReadable(b);
    expect(b.recvInto(Buffer.alloc(8), 0, 0)).toBe(0);
    expect(b.recv(8)?.toString()).toBe('z');
  });
});
