// Backends agree (DESIGN §2 "Level-triggered everywhere by default, so all backends report the
// same readiness for the same state"): one random sequence of operations on a pool of socketpairs
// runs on every backend at once, and after every step each backend's select(0) reports the same
// (fd, mask) set, which is also the set a small model of the sockets predicts.
//
// Only the watched end `a` of each pair is registered; operations act on either end. Sockets are
// used, not pipes: a pipe's hang-up is the one state where select(2) legitimately differs.
//
// The seed is fixed (and in the test's name) so a run is reproducible: set IOMUX_FC_SEED to try
// another. Wide random exploration is `npm run fuzz`'s job, not the suite's.
import { constants as osConstants } from 'node:os';
import fc from 'fast-check';
import { native } from '../../src/native.js';
import { afterEach, describe, expect, test } from 'vitest';
import { availableBackends, type BaseSelector } from '../../src/selectors.js';
import {
  EVENT_READ,
  EVENT_WRITE,
  RW,
  closeFd,
  drain,
  fill,
  openSelector,
  pairsOf,
  shutdownWrite,
  socketpair,
  writeBytes,
  type Pair,
} from '../helpers/fds.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

const POOL = 8;
const SEED = Number(process.env.IOMUX_FC_SEED ?? 20261202);
const EAGAIN = -osConstants.errno.EAGAIN;
const ECONNRESET = -osConstants.errno.ECONNRESET;

type Op =
  | { kind: 'register'; i: number; events: number }
  | { kind: 'modify'; i: number; events: number }
  | { kind: 'unregister'; i: number }
  | { kind: 'peerWrite'; i: number; bytes: number } // a becomes readable
  | { kind: 'drain'; i: number } // a reads everything: not readable unless at EOF
  | { kind: 'fill'; i: number } // a writes until EAGAIN: not writable
  | { kind: 'peerDrain'; i: number } // the peer reads everything a sent: a writable again
  | { kind: 'peerShutdown'; i: number } // a reads EOF
  | { kind: 'peerClose'; i: number }; // a hangs up: readable and writable

const index = fc.integer({ min: 0, max: POOL - 1 });
const events = fc.constantFrom(EVENT_READ, EVENT_WRITE, RW);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('register' as const), i: index, events }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('modify' as const), i: index, events }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('unregister' as const), i: index }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('peerWrite' as const),
      i: index,
      bytes: fc.integer({ min: 1, max: 4096 }),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant('drain' as const), i: index }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('fill' as const), i: index }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('peerDrain' as const), i: index }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('peerShutdown' as const), i: index }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('peerClose' as const), i: index }), weight: 1 },
);

/** What we know about one socketpair [a, peer]. */
interface PairModel {
  a: number;
  peer: number;
  registered: number; // asked events, 0 when not registered
  pending: boolean; // the peer sent data a has not read
  full: boolean; // a's send buffer is full
  peerUnread: boolean; // a sent data the peer has not read
  reset: boolean; // the peer closed with that data unread: a's next read past its data fails
  peerShut: boolean;
  peerClosed: boolean;
}

function expectedMask(m: PairModel): number {
  const readable = m.pending || m.peerShut || m.peerClosed;
  const writable = !m.full || m.peerClosed; // closing the peer frees what a had sent
  return ((readable ? EVENT_READ : 0) | (writable ? EVENT_WRITE : 0)) & m.registered;
}

/**
 * Reads a until EAGAIN or EOF and returns 'ok', or the error code the read ended with. A Unix
 * socket whose peer closed with unread data reports ECONNRESET once, after the data it still
 * holds (net/unix/af_unix.c sets the peer's sk_err), and EOF from then on.
 */
function drainOutcome(fd: number): string {
  const buf = Buffer.alloc(64 * 1024);
  for (;;) {
    const n = native.read(fd, buf, 0, buf.length);
    if (n === EAGAIN || n === 0) return 'ok';
    if (n === ECONNRESET) return 'ECONNRESET';
    if (n < 0) return `errno ${n}`;
  }
}

/** Runs fn on every selector and returns 'ok' or the error code each one gave. */
function outcomes(selectors: BaseSelector[], fn: (sel: BaseSelector) => unknown): string[] {
  return selectors.map((sel) => {
    try {
      fn(sel);
      return 'ok';
    } catch (err) {
      return String((err as { code?: unknown }).code ?? err);
    }
  });
}

function step(selectors: BaseSelector[], model: PairModel[], op: Op): void {
  const m = model[op.i];
  switch (op.kind) {
    case 'register': {
      const want = m.registered ? 'ERR_FD_ALREADY_REGISTERED' : 'ok';
      expect(outcomes(selectors, (s) => s.register(m.a, op.events, op.i))).toEqual(selectors.map(() => want));
      if (!m.registered) m.registered = op.events;
      break;
    }
    case 'modify': {
      const want = m.registered ? 'ok' : 'ERR_FD_NOT_REGISTERED';
      expect(outcomes(selectors, (s) => s.modify(m.a, op.events, op.i))).toEqual(selectors.map(() => want));
      if (m.registered) m.registered = op.events;
      break;
    }
    case 'unregister': {
      const want = m.registered ? 'ok' : 'ERR_FD_NOT_REGISTERED';
      expect(outcomes(selectors, (s) => s.unregister(m.a))).toEqual(selectors.map(() => want));
      m.registered = 0;
      break;
    }
    case 'peerWrite':
      if (m.peerClosed || m.peerShut) break;
      expect(writeBytes(m.peer, op.bytes)).toBe(op.bytes);
      m.pending = true;
      break;
    case 'drain':
      expect(drainOutcome(m.a), `drain after ${m.reset ? 'a reset' : 'no reset'}`).toBe(m.reset ? 'ECONNRESET' : 'ok');
      m.pending = false;
      m.reset = false;
      break;
    case 'fill':
      if (m.peerClosed) break; // writing would fail with EPIPE
      fill(m.a);
      m.full = true;
      m.peerUnread = true;
      break;
    case 'peerDrain':
      if (m.peerClosed) break;
      drain(m.peer);
      m.full = false;
      m.peerUnread = false;
      break;
    case 'peerShutdown':
      if (m.peerClosed) break;
      shutdownWrite(m.peer);
      m.peerShut = true;
      break;
    case 'peerClose':
      if (m.peerClosed) break;
      closeFd(m.peer);
      m.peerClosed = true;
      m.reset = m.peerUnread;
      break;
  }
}

describe('all backends at once', () => {
  test(`§2 Level-triggered everywhere: random operations on ${POOL} socketpairs give identical ready sets on ${availableBackends().join(', ')} (seed ${SEED})`, () => {
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => {
        try {
          const selectors = availableBackends().map((b) => openSelector(b));
          const model: PairModel[] = Array.from({ length: POOL }, () => {
            const [a, peer] = socketpair();
            return {
              a,
              peer,
              registered: 0,
              pending: false,
              full: false,
              peerUnread: false,
              reset: false,
              peerShut: false,
              peerClosed: false,
            };
          });
          for (const op of ops) {
            step(selectors, model, op);
            const expected: Pair[] = model.filter((m) => expectedMask(m) !== 0).map((m) => [m.a, expectedMask(m)]);
            expected.sort((x, y) => x[0] - y[0]);
            const reported = selectors.map((sel) => pairsOf(sel, sel.select(0)));
            for (const [n, got] of reported.entries()) {
              expect(got, `${selectors[n].backend} after ${JSON.stringify(op)}`).toEqual(expected);
            }
            for (const sel of selectors) {
              const keys = [...sel.getMap().values()]
                .map((k) => [k.fd, k.events, k.data])
                .sort((x, y) => Number(x[0]) - Number(y[0]));
              const want = model
                .map((m, i) => [m.a, m.registered, i])
                .filter(([, ev]) => ev !== 0)
                .sort((x, y) => x[0] - y[0]);
              expect(keys, `${sel.backend} keys after ${JSON.stringify(op)}`).toEqual(want);
            }
          }
        } finally {
          // Only fds and selectors here: their release is synchronous, done when cleanup() returns.
          void cleanup();
        }
      }),
      {
        numRuns: 50,
        seed: SEED,
        // The sequence that once failed at random (seed -376815274, path 4:6:7) runs every time.
        examples: [
          [
            [
              { kind: 'fill', i: 1 },
              { kind: 'peerClose', i: 1 },
              { kind: 'drain', i: 1 },
            ],
          ],
        ],
      },
    );
  });
});
