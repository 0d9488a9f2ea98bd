// The batched path's native half (native/batch_io.{h,cc}, the batchInit/batchMarks/cycle/flush
// methods of NativeSelector in native/binding.cc), driven directly through the handle with
// arrays the test owns, on every backend. src/batch-io.ts is not involved: what is checked here
// is the contract it relies on.
//
// Writes (fd, source, offset, length): flush sends them in order, from the write slab (source 0)
// or the read slab (source 1), and overwrites `source` with the result (bytes sent, or -errno;
// EAGAIN is 0). A write that comes up short or fails blocks its fd's later writes in the batch
// (result 0), fd -1 is a cancelled write (result 0, nothing sent), a span outside its slab is
// -EINVAL and sends nothing. A send into a closed connection is -EPIPE/-ECONNRESET, never a
// SIGPIPE. cycle() flushes first and then waits with timeout 0 when a write came up short.
//
// Reads (fd, mask, offset, length): a readable fd whose mark is > 0 is read (at most the mark,
// at most 64 KiB, at most the room left) into the read slab at state[0], which moves past the
// bytes to the next multiple of 8; length is the byte count, 0 at EOF or -errno. NOT_READ: no
// mark (or no kRead in the mask); NO_ROOM: less than 16 KiB left, and nothing is read.
//
// Memory and misuse: the arguments are checked before anything is sent (a cycle() that throws
// has flushed nothing), nothing past the end of the read slab or the records is written
// (canaries after them show it), and a read slab whose ArrayBuffer user code transferred away
// (a transport's dataReceived() gets views of it) is neither read into nor sent from again.
//
// A wait that should not block is bounded twice: a child process writes to a registered pipe
// after a few seconds (a buggy wait then returns late and the timing check fails), and a
// watchdog kills the test process well after that, so nothing can hang the runner.
import { constants as osConstants } from 'node:os';
import { afterEach, describe, expect, test } from 'vitest';
import { NOT_READ, NO_ROOM } from '../../src/batch-io.js';
import { BACKEND_IDS, native, type NativeSelectorHandle } from '../../src/native.js';
import { EVENT_READ, EVENT_WRITE, availableBackends, type BackendName } from '../../src/selectors.js';
import type { Socket } from '../../src/socket.js';
import { closeFd, expectError, pipe, timed, watchdog, writeLater } from '../helpers/fds.js';
import {
  connectedPair,
  drainSocket,
  fillSocket,
  pattern,
  smallBuffers,
  waitFor,
  waitReadable,
} from '../helpers/net.js';
import { cleanup, hold } from '../helpers/resources.js';

afterEach(cleanup);

const { EBADF, EINVAL, EPIPE, ECONNRESET } = osConstants.errno;
const KIB = 1024;
const MIN_ROOM = 16 * KIB;
const MAX_READ = 64 * KIB;
const RECORDS = 64;
const WRITES = 64;

/** One selector handle on the batched path, with the shared memory it was given. */
interface Batch {
  sel: NativeSelectorHandle;
  records: Int32Array;
  writes: Int32Array;
  writeSlab: Buffer;
  state: Int32Array;
  marks: Int32Array;
}

/** An open NativeSelector of `backend` (closed by cleanup()), not yet on the batched path. */
function openHandle(backend: BackendName): NativeSelectorHandle {
  const sel = new native.NativeSelector(new Int32Array(2048));
  expect(sel.open(BACKEND_IDS[backend])).toBe(0);
  hold(() => sel.close());
  return sel;
}

/** A handle with batchInit() and batchMarks() done; the write slab holds pattern(…, 1). */
function openBatch(backend: BackendName, writeSlabBytes = 64 * KIB): Batch {
  const sel = openHandle(backend);
  const b: Batch = {
    sel,
    records: new Int32Array(RECORDS * 4),
    writes: new Int32Array(WRITES * 4),
    writeSlab: pattern(writeSlabBytes, 1),
    state: new Int32Array(1),
    marks: new Int32Array(1024),
  };
  sel.batchInit(b.records, b.writes, b.writeSlab, b.state);
  sel.batchMarks(b.marks);
  return b;
}

/** Sets write `i` to (fd, source, offset, length). */
function setWrite(b: Batch, i: number, fd: number, source: 0 | 1, offset: number, length: number): void {
  b.writes.set([fd, source, offset, length], i * 4);
}

/** The results flush wrote over the `source` of writes [0, count). */
function results(b: Batch, count: number): number[] {
  return Array.from({ length: count }, (_, i) => b.writes[i * 4 + 1]);
}

interface ReadRecord {
  fd: number;
  mask: number;
  offset: number;
  length: number;
}

/** The records of the last cycle, by fd (checking that no fd appears twice). */
function recordsByFd(b: Batch, count: number): Map<number, ReadRecord> {
  expect(count).toBeGreaterThanOrEqual(0);
  const byFd = new Map<number, ReadRecord>();
  for (let i = 0; i < count; i++) {
    const [fd, mask, offset, length] = b.records.subarray(i * 4, i * 4 + 4);
    expect(byFd.has(fd), `fd ${fd} reported once`).toBe(false);
    byFd.set(fd, { fd, mask, offset, length });
  }
  return byFd;
}

/** The record of `fd` in the last cycle (fails if it has none). */
function recordOf(b: Batch, count: number, fd: number): ReadRecord {
  const r = recordsByFd(b, count).get(fd);
  expect(r, `a record for fd ${fd}`).toBeDefined();
  return r!;
}

/** Everything `sock` can read now, waiting up to 2 s for the first byte if `expectSome`. */
function readAll(sock: Socket, expectSome = true): Buffer {
  if (expectSome) waitReadable(sock);
  const parts: Buffer[] = [];
  const buf = Buffer.allocUnsafe(256 * KIB);
  for (;;) {
    const n = sock.recvInto(buf);
    if (n === null || n === 0) return Buffer.concat(parts);
    parts.push(Buffer.from(buf.subarray(0, n)));
  }
}

const align8 = (n: number) => (n + 7) & ~7;

// kqueue where the build has it (availableBackends() lists what was compiled in).
const backends = availableBackends();

describe.each(backends)('%s: batched path, native half', (backend) => {
  describe('argument errors', () => {
    test('batchInit refuses anything but (Int32Array, Int32Array, Uint8Array, Int32Array[1+]) with TypeError ERR_INVALID_ARG_TYPE', () => {
      const sel = openHandle(backend);
      const r = new Int32Array(16);
      const w = new Int32Array(16);
      const slab = new Uint8Array(64);
      const st = new Int32Array(1);
      const bad: unknown[][] = [
        [],
        [r, w, slab],
        [new Float64Array(16), w, slab, st],
        [new Uint32Array(16), w, slab, st],
        [r, [0, 0, 0, 0], slab, st],
        [r, w, new Int8Array(64), st],
        [r, w, new Int32Array(16), st],
        [r, w, new ArrayBuffer(64), st],
        [r, w, 'slab', st],
        [r, w, slab, new Int32Array(0)],
        [r, w, slab, new Uint8Array(4)],
        [r, w, slab, 0],
      ];
      for (const args of bad) {
        expectError(() => (sel.batchInit as (...a: unknown[]) => void)(...args), TypeError, 'ERR_INVALID_ARG_TYPE');
      }
      // A refused batchInit leaves the handle off the batched path.
      expect(sel.cycle(0, 0, undefined)).toBe(-EINVAL);
      expect(sel.flush(0)).toBe(-EINVAL);
      // A Buffer is a Uint8Array.
      expect(sel.batchInit(r, w, Buffer.alloc(64), st)).toBeUndefined();
      expect(sel.cycle(0, 0, undefined)).toBe(0);
    });

    test('batchMarks refuses a non-Int32Array with TypeError ERR_INVALID_ARG_TYPE', () => {
      const sel = openHandle(backend);
      for (const arg of [undefined, [1, 2], new Uint32Array(4), new Float64Array(4), 3]) {
        expectError(() => sel.batchMarks(arg as never), TypeError, 'ERR_INVALID_ARG_TYPE');
      }
    });

    test('cycle refuses a read slab that is not a Uint8Array, and non-integer arguments, with TypeError ERR_INVALID_ARG_TYPE', () => {
      const b = openBatch(backend);
      for (const slab of [new Int32Array(4), new Uint16Array(8), new ArrayBuffer(32), 'slab', 7, null, {}]) {
        expectError(() => b.sel.cycle(0, 0, slab as never), TypeError, 'ERR_INVALID_ARG_TYPE');
      }
      expectError(() => b.sel.cycle('0' as never, 0, undefined), TypeError, 'ERR_INVALID_ARG_TYPE');
      expectError(() => b.sel.cycle(0, undefined as never, undefined), TypeError, 'ERR_INVALID_ARG_TYPE');
      expectError(() => b.sel.flush('1' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
      // undefined and a missing argument both keep the slab (none here).
      expect(b.sel.cycle(0, 0, undefined)).toBe(0);
      expect((b.sel.cycle as (t: number, n: number) => number)(0, 0)).toBe(0);
    });

    test('a cycle refused for its read slab sends none of the writes it was given', () => {
      const b = openBatch(backend);
      const [a, peer] = connectedPair('socketpair');
      setWrite(b, 0, a.fd, 0, 0, 100);
      expectError(() => b.sel.cycle(0, 1, 'slab' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
      // The caller saw an exception, not results: the write must still be queued, unsent.
      expect(b.writes[1]).toBe(0); // source, not overwritten by a result
      expect(readAll(peer, false).length).toBe(0);
      expect(b.sel.flush(1)).toBe(1);
      expect(results(b, 1)).toEqual([100]);
      expect(readAll(peer)).toEqual(b.writeSlab.subarray(0, 100));
    });

    test('cycle and flush before batchInit return -EINVAL and touch nothing', () => {
      const sel = openHandle(backend);
      const [a, peer] = connectedPair('socketpair');
      expect(sel.add(a.fd, EVENT_READ | EVENT_WRITE)).toBe(0);
      peer.send('x');
      waitReadable(a);
      expect(sel.cycle(0, 1, new Uint8Array(64 * KIB))).toBe(-EINVAL);
      expect(sel.cycle(-1, 0, undefined)).toBe(-EINVAL); // returns: no wait happens
      expect(sel.flush(1)).toBe(-EINVAL);
      expect(sel.flush(0)).toBe(-EINVAL);
      expect(a.recv(10)).toEqual(Buffer.from('x'));
    });

    test('cycle before open() and after close() returns -EBADF; the handle stays usable as an object', () => {
      const sel = new native.NativeSelector(new Int32Array(64));
      const st = new Int32Array(1);
      sel.batchInit(new Int32Array(16), new Int32Array(16), new Uint8Array(64), st);
      expect(sel.cycle(0, 0, undefined)).toBe(-EBADF);
      expect(sel.open(BACKEND_IDS[backend])).toBe(0);
      expect(sel.cycle(0, 0, undefined)).toBe(0);
      sel.close();
      expect(sel.cycle(0, 0, undefined)).toBe(-EBADF);
      expect(sel.cycle(-1, 0, new Uint8Array(64 * KIB))).toBe(-EBADF);
      sel.close(); // twice: harmless
      expect(sel.cycle(0, 0, undefined)).toBe(-EBADF);
    });
  });

  describe('flush', () => {
    test('sends several writes to two sockets in order, from both slabs, and writes each result', () => {
      const b = openBatch(backend);
      const [a, pa] = connectedPair('socketpair');
      const [c, pc] = connectedPair('tcp4');
      const readSlab = pattern(64 * KIB, 2);
      expect(b.sel.cycle(0, 0, readSlab)).toBe(0); // hands the read slab over
      const ws = b.writeSlab;
      const plan: Array<[Socket, 0 | 1, number, number]> = [
        [a, 0, 0, 10],
        [c, 1, 100, 50],
        [a, 1, 8, 32],
        [c, 0, 200, 100],
        [a, 0, 10, 10],
        [c, 1, 0, 1],
        [a, 1, 64 * KIB - 7, 7], // up to the slab's last byte
        [c, 0, 64 * KIB - 1, 1],
      ];
      plan.forEach(([s, source, offset, length], i) => setWrite(b, i, s.fd, source, offset, length));
      expect(b.sel.flush(plan.length)).toBe(1);
      expect(results(b, plan.length)).toEqual(plan.map((p) => p[3]));
      // The other fields are left as they were.
      plan.forEach(([s, , offset, length], i) => {
        expect([b.writes[i * 4], b.writes[i * 4 + 2], b.writes[i * 4 + 3]]).toEqual([s.fd, offset, length]);
      });
      const expected = (sock: Socket) =>
        Buffer.concat(
          plan
            .filter(([s]) => s === sock)
            .map(([, source, offset, length]) => (source === 0 ? ws : readSlab).subarray(offset, offset + length)),
        );
      expect(readAll(pa)).toEqual(expected(a));
      const wantC = expected(c);
      let gotC = Buffer.alloc(0);
      while (gotC.length < wantC.length) gotC = Buffer.concat([gotC, readAll(pc)]);
      expect(gotC).toEqual(wantC);
    });

    test('cycle flushes before it waits: the peer echoes within the same call', () => {
      const b = openBatch(backend);
      const [a, pa] = connectedPair('socketpair');
      // The peer's reply is already there, so the cycle must report a readable, and the write must
      // have gone out before the wait (the peer sees it once the call returns).
      expect(b.sel.add(a.fd, EVENT_READ)).toBe(0);
      pa.send('reply');
      waitReadable(a);
      setWrite(b, 0, a.fd, 0, 0, 5);
      const n = b.sel.cycle(2000, 1, undefined);
      expect(results(b, 1)).toEqual([5]);
      expect(recordOf(b, n, a.fd).mask).toBe(EVENT_READ);
      expect(readAll(pa)).toEqual(b.writeSlab.subarray(0, 5));
    });

    test('cycle sends read-slab writes from the slab it held, before it takes the new one', () => {
      const b = openBatch(backend);
      const [a, pa] = connectedPair('socketpair');
      const first = pattern(64 * KIB, 3);
      const second = pattern(64 * KIB, 4);
      expect(b.sel.cycle(0, 0, first)).toBe(0);
      setWrite(b, 0, a.fd, 1, 16, 40);
      expect(b.sel.cycle(0, 1, second)).toBe(0);
      expect(results(b, 1)).toEqual([40]);
      setWrite(b, 0, a.fd, 1, 16, 40);
      expect(b.sel.flush(1)).toBe(1);
      expect(readAll(pa)).toEqual(Buffer.concat([first.subarray(16, 56), second.subarray(16, 56)]));
    });

    test('a write the kernel does not take (EAGAIN: 0) blocks its fd for the rest of the batch, not the others', () => {
      const b = openBatch(backend);
      const [a, pa] = connectedPair('socketpair');
      const [c, pc] = connectedPair('socketpair');
      smallBuffers(a);
      smallBuffers(pa);
      const filled = fillSocket(a);
      setWrite(b, 0, a.fd, 0, 0, 100);
      setWrite(b, 1, c.fd, 0, 100, 20);
      setWrite(b, 2, a.fd, 0, 200, 10);
      setWrite(b, 3, c.fd, 0, 300, 20);
      expect(b.sel.flush(4)).toBe(0);
      expect(results(b, 4)).toEqual([0, 20, 0, 20]);
      expect(readAll(pc)).toEqual(Buffer.concat([b.writeSlab.subarray(100, 120), b.writeSlab.subarray(300, 320)]));
      const [got] = drainSocket(pa);
      expect(got).toBe(filled);
      // The block lasts one batch: the next flush sends to `a` again.
      setWrite(b, 0, a.fd, 0, 0, 10);
      expect(b.sel.flush(1)).toBe(1);
      expect(readAll(pa)).toEqual(b.writeSlab.subarray(0, 10));
    });

    test('a write that comes up short blocks the same fd for the rest of the batch: the peer gets exactly its prefix', () => {
      const b = openBatch(backend, 1024 * KIB);
      // TCP over loopback with a small send buffer and a large receiver: a 1 MiB send comes up short,
      // and by the time the next write of the batch is tried the kernel may well have room again.
      const [a, pa] = connectedPair('tcp4');
      const [c, pc] = connectedPair('socketpair');
      smallBuffers(a, 8 * KIB);
      setWrite(b, 0, a.fd, 0, 0, 1024 * KIB);
      setWrite(b, 1, c.fd, 0, 0, 30);
      for (let i = 2; i < 40; i++) setWrite(b, i, a.fd, 0, 1024 * KIB - 64, 64);
      expect(b.sel.flush(40)).toBe(0);
      const [sent, ...rest] = results(b, 40);
      expect(sent).toBeGreaterThan(0);
      expect(sent).toBeLessThan(1024 * KIB);
      expect(rest).toEqual([30, ...Array<number>(38).fill(0)]);
      expect(readAll(pc)).toEqual(b.writeSlab.subarray(0, 30));
      let got = Buffer.alloc(0);
      while (got.length < sent) got = Buffer.concat([got, readAll(pa)]);
      expect(got).toEqual(b.writeSlab.subarray(0, sent));
      // Nothing of the skipped writes follows.
      expect(readAll(pa, false).length).toBe(0);
    });

    test('a failed write (-EINVAL) blocks its fd for the rest of the batch too', () => {
      const b = openBatch(backend);
      const [a, pa] = connectedPair('socketpair');
      const [c, pc] = connectedPair('socketpair');
      setWrite(b, 0, a.fd, 0, 0, 5);
      setWrite(b, 1, a.fd, 0, -1, 5);
      setWrite(b, 2, a.fd, 0, 5, 5); // would be accepted: the kernel has room
      setWrite(b, 3, c.fd, 0, 5, 5);
      expect(b.sel.flush(4)).toBe(0);
      expect(results(b, 4)).toEqual([5, -EINVAL, 0, 5]);
      expect(readAll(pa)).toEqual(b.writeSlab.subarray(0, 5));
      expect(readAll(pc)).toEqual(b.writeSlab.subarray(5, 10));
    });

    test('a cancelled write (fd -1) sends nothing, reads 0, and does not make the batch short', () => {
      const b = openBatch(backend);
      const [a, pa] = connectedPair('socketpair');
      setWrite(b, 0, a.fd, 0, 0, 4);
      setWrite(b, 1, -1, 0, 4, 4);
      setWrite(b, 2, a.fd, 0, 8, 4);
      setWrite(b, 3, -1, 1, 0, 1 << 30); // even with a span no slab has
      expect(b.sel.flush(4)).toBe(1);
      expect(results(b, 4)).toEqual([4, 0, 4, 0]);
      expect(readAll(pa)).toEqual(Buffer.concat([b.writeSlab.subarray(0, 4), b.writeSlab.subarray(8, 12)]));
    });

    test('a write whose span is outside its slab is -EINVAL and sends nothing', () => {
      const b = openBatch(backend, 1000);
      const [a, pa] = connectedPair('socketpair');
      const [c, pc] = connectedPair('socketpair');
      const bad: Array<[0 | 1, number, number]> = [
        [0, -1, 10],
        [0, -(2 ** 31), 1],
        [0, 0, 0],
        [0, 0, -1],
        [0, 10, -(2 ** 31)],
        [0, 0, 1001],
        [0, 1000, 1],
        [0, 999, 2],
        [0, 2 ** 31 - 1, 2 ** 31 - 1],
        [1, 0, 1], // no read slab yet: it has length 0
      ];
      for (const [source, offset, length] of bad) {
        setWrite(b, 0, a.fd, source, offset, length);
        setWrite(b, 1, c.fd, 0, 0, 3);
        expect(b.sel.flush(2), `(${source}, ${offset}, ${length})`).toBe(0);
        expect(results(b, 2), `(${source}, ${offset}, ${length})`).toEqual([-EINVAL, 3]);
      }
      expect(readAll(pa, false).length).toBe(0);
      expect(readAll(pc).length).toBe(3 * bad.length);
      // The read slab's bounds are its own.
      expect(b.sel.cycle(0, 0, new Uint8Array(100))).toBe(0);
      setWrite(b, 0, a.fd, 1, 99, 2);
      setWrite(b, 1, c.fd, 1, 500, 10); // inside the write slab, not the read slab
      expect(b.sel.flush(2)).toBe(0);
      expect(results(b, 2)).toEqual([-EINVAL, -EINVAL]);
      setWrite(b, 0, a.fd, 0, 999, 1);
      setWrite(b, 1, a.fd, 1, 99, 1);
      expect(b.sel.flush(2)).toBe(1);
      expect(readAll(pa)).toEqual(Buffer.from([b.writeSlab[999], 0]));
      expect(readAll(pc, false).length).toBe(0);
    });

    test('flush(count) only looks at writes [0, count), clamped to the writes array', () => {
      const b = openBatch(backend);
      const [a, pa] = connectedPair('socketpair');
      for (let i = 0; i < WRITES; i++) setWrite(b, i, a.fd, 0, i, 1);
      expect(b.sel.flush(0)).toBe(1);
      expect(b.sel.flush(-5)).toBe(1);
      expect(readAll(pa, false).length).toBe(0);
      expect(b.sel.flush(3)).toBe(1);
      expect(results(b, 4)).toEqual([1, 1, 1, 0]);
      expect(readAll(pa)).toEqual(b.writeSlab.subarray(0, 3));
      for (let i = 0; i < WRITES; i++) setWrite(b, i, a.fd, 0, i, 1);
      expect(b.sel.flush(WRITES * 100)).toBe(1);
      expect(readAll(pa)).toEqual(b.writeSlab.subarray(0, WRITES));
    });

    test('a send into a closed connection is -EPIPE or -ECONNRESET, raises no SIGPIPE, and blocks the fd', () => {
      const b = openBatch(backend);
      // Node ignores SIGPIPE, which would hide one. signalWatch() installs a handler that writes
      // the signal number to `sigW` (and signalUnwatch() restores Node's disposition), so every
      // SIGPIPE raised from here on is a byte in `sigR`, there as soon as the syscall returns.
      const SIGPIPE = osConstants.signals.SIGPIPE;
      const [sigR, sigW] = pipe();
      expect(native.signalWatch(SIGPIPE, sigW)).toBe(0);
      hold(() => void native.signalUnwatch(SIGPIPE));
      const sigpipes = () => {
        const n = native.read(sigR, Buffer.alloc(16), 0, 16);
        return n === -osConstants.errno.EAGAIN ? 0 : n;
      };
      const [a, pa] = connectedPair('socketpair');
      const [c, pc] = connectedPair('tcp4');
      const [d, pd] = connectedPair('socketpair');
      pa.close();
      pc.send('unread'); // closed with unread data: the kernel answers with RST
      waitReadable(c);
      c.close();
      // `pc`'s first send may still go out (the RST comes back for it); a later one fails.
      let tcpResult = 0;
      for (let round = 0; round < 50 && tcpResult >= 0; round++) {
        setWrite(b, 0, a.fd, 0, 0, 10);
        setWrite(b, 1, pc.fd, 0, 0, 10);
        setWrite(b, 2, a.fd, 0, 10, 10);
        setWrite(b, 3, d.fd, 0, 20, 10);
        expect(b.sel.flush(4)).toBe(0);
        const r = results(b, 4);
        expect([r[0], r[2], r[3]]).toEqual([-EPIPE, 0, 10]);
        tcpResult = r[1];
        if (tcpResult >= 0) {
          expect(tcpResult).toBe(10);
          waitFor(pc, EVENT_READ, 20); // the RST, if it is on its way
        }
      }
      expect([-EPIPE, -ECONNRESET]).toContain(tcpResult);
      expect(drainSocket(pd)[0]).toBeGreaterThan(0);
      expect(sigpipes()).toBe(0);
      // Control: write(2) into a pipe without a reader does raise SIGPIPE, and it is counted.
      const [r, w] = pipe();
      closeFd(r);
      expect(native.write(w, Buffer.from('x'), 0, 1)).toBe(-EPIPE);
      expect(sigpipes()).toBe(1);
    });
  });

  describe('auto-read', () => {
    test('a readable fd with a mark is read at state[0]; state[0] moves to the next multiple of 8 past the bytes', () => {
      const b = openBatch(backend);
      const slab = new Uint8Array(64 * KIB).fill(0xee);
      const [a, pa] = connectedPair('socketpair');
      const [c, pc] = connectedPair('tcp4');
      b.marks[a.fd] = MAX_READ;
      b.marks[c.fd] = MAX_READ;
      expect(b.sel.add(a.fd, EVENT_READ)).toBe(0);
      expect(b.sel.add(c.fd, EVENT_READ)).toBe(0);
      const da = pattern(13, 5);
      const dc = pattern(21, 6);
      pa.send(da);
      pc.send(dc);
      waitReadable(a);
      waitReadable(c);
      b.state[0] = 24;
      const n = b.sel.cycle(1000, 0, slab);
      expect(n).toBe(2);
      // Offsets follow the order the backend reported the fds in.
      let at = 24;
      for (let i = 0; i < n; i++) {
        const [fd, mask, offset, length] = b.records.subarray(i * 4, i * 4 + 4);
        const want = fd === a.fd ? da : dc;
        expect([mask, offset, length]).toEqual([EVENT_READ, at, want.length]);
        expect(Buffer.from(slab.subarray(at, at + length))).toEqual(want);
        at = align8(at + length);
      }
      expect(b.state[0]).toBe(at);
      expect(b.state[0]).toBe(24 + align8(13) + align8(21));
      // Nothing outside the records' spans was written.
      expect(slab.subarray(0, 24).every((x) => x === 0xee)).toBe(true);
      expect(slab.subarray(b.state[0]).every((x) => x === 0xee)).toBe(true);
      // The bytes were taken from the kernel: the next cycle finds nothing.
      expect(b.sel.cycle(0, 0, undefined)).toBe(0);
      expect(a.recvInto(Buffer.alloc(1))).toBeNull();
    });

    test('a readable fd without a mark is reported NOT_READ and left unread', () => {
      const b = openBatch(backend);
      const [a, pa] = connectedPair('socketpair');
      const [c, pc] = connectedPair('socketpair');
      expect(b.sel.add(a.fd, EVENT_READ)).toBe(0);
      expect(b.sel.add(c.fd, EVENT_READ)).toBe(0);
      b.marks[c.fd] = MAX_READ;
      b.marks[c.fd] = 0; // set, then cleared: JS turns auto-read off with a 0
      pa.send('abc');
      pc.send('def');
      waitReadable(a);
      waitReadable(c);
      b.state[0] = 8;
      const n = b.sel.cycle(1000, 0, new Uint8Array(64 * KIB));
      expect(n).toBe(2);
      expect(NOT_READ).toBe(-(2 ** 31));
      for (const fd of [a.fd, c.fd]) expect(recordOf(b, n, fd)).toMatchObject({ mask: EVENT_READ, length: NOT_READ });
      expect(b.state[0]).toBe(8);
      expect(a.recv(10)).toEqual(Buffer.from('abc'));
      expect(c.recv(10)).toEqual(Buffer.from('def'));
    });

    test('an fd past the end of the marks array is NOT_READ; batchMarks() replaces the array', () => {
      const b = openBatch(backend);
      const [a, pa] = connectedPair('socketpair');
      expect(b.sel.add(a.fd, EVENT_READ)).toBe(0);
      pa.send('hello');
      waitReadable(a);
      const slab = new Uint8Array(64 * KIB);
      b.sel.batchMarks(new Int32Array(a.fd)); // one short: a.fd is just past its end
      expect(recordOf(b, b.sel.cycle(1000, 0, slab), a.fd).length).toBe(NOT_READ);
      const marks = new Int32Array(a.fd + 1);
      b.sel.batchMarks(marks);
      expect(recordOf(b, b.sel.cycle(1000, 0, undefined), a.fd).length).toBe(NOT_READ);
      marks[a.fd] = 100; // shared memory: no call needed
      const r = recordOf(b, b.sel.cycle(1000, 0, undefined), a.fd);
      expect(r.length).toBe(5);
      expect(Buffer.from(slab.subarray(r.offset, r.offset + 5)).toString()).toBe('hello');
    });

    test('a mark smaller than what is pending reads only that much', () => {
      const b = openBatch(backend);
      const slab = new Uint8Array(64 * KIB);
      const [a, pa] = connectedPair('socketpair');
      expect(b.sel.add(a.fd, EVENT_READ)).toBe(0);
      const data = pattern(1000, 7);
      pa.send(data);
      waitReadable(a);
      b.marks[a.fd] = 10;
      let r = recordOf(b, b.sel.cycle(1000, 0, slab), a.fd);
      expect([r.offset, r.length, b.state[0]]).toEqual([0, 10, 16]);
      expect(Buffer.from(slab.subarray(0, 10))).toEqual(data.subarray(0, 10));
      b.marks[a.fd] = MAX_READ;
      r = recordOf(b, b.sel.cycle(1000, 0, undefined), a.fd);
      expect([r.offset, r.length, b.state[0]]).toEqual([16, 990, 16 + align8(990)]);
      expect(Buffer.from(slab.subarray(16, 16 + 990))).toEqual(data.subarray(10));
    });

    test('one read takes at most 64 KiB, whatever the mark and the room', () => {
      const b = openBatch(backend);
      const slab = new Uint8Array(256 * KIB);
      const [a, pa] = connectedPair('tcp4');
      expect(b.sel.add(a.fd, EVENT_READ)).toBe(0);
      b.marks[a.fd] = 2 ** 31 - 1;
      const total = fillSocket(pa);
      expect(total).toBeGreaterThan(MAX_READ);
      waitReadable(a);
      const r = recordOf(b, b.sel.cycle(1000, 0, slab), a.fd);
      expect(r.length).toBeGreaterThan(0);
      expect(r.length).toBeLessThanOrEqual(MAX_READ);
      expect(b.state[0]).toBe(align8(r.length));
    });

    test('a readable fd at EOF gives length 0 and leaves state[0] alone', () => {
      const b = openBatch(backend);
      const [a, pa] = connectedPair('socketpair');
      expect(b.sel.add(a.fd, EVENT_READ)).toBe(0);
      b.marks[a.fd] = MAX_READ;
      pa.close();
      waitReadable(a);
      b.state[0] = 40;
      const r = recordOf(b, b.sel.cycle(1000, 0, new Uint8Array(64 * KIB)), a.fd);
      expect(r).toEqual({ fd: a.fd, mask: EVENT_READ, offset: 40, length: 0 });
      expect(b.state[0]).toBe(40);
    });

    test('a failed read gives -errno and leaves state[0] alone', () => {
      const b = openBatch(backend);
      // A TCP connection reset by its peer: read(2) fails with ECONNRESET.
      const [a, pa] = connectedPair('tcp4');
      expect(b.sel.add(a.fd, EVENT_READ)).toBe(0);
      b.marks[a.fd] = MAX_READ;
      a.send('unread');
      waitReadable(pa);
      pa.close(); // closed with unread data: RST
      waitReadable(a);
      b.state[0] = 16;
      const r = recordOf(b, b.sel.cycle(1000, 0, new Uint8Array(64 * KIB)), a.fd);
      expect(r.length).toBe(-ECONNRESET);
      expect(b.state[0]).toBe(16);
    });

    test('an fd reported writable only is not read, mark or not', () => {
      const b = openBatch(backend);
      const [a, pa] = connectedPair('socketpair');
      expect(b.sel.add(a.fd, EVENT_WRITE)).toBe(0);
      b.marks[a.fd] = MAX_READ;
      pa.send('pending');
      waitReadable(a);
      const r = recordOf(b, b.sel.cycle(1000, 0, new Uint8Array(64 * KIB)), a.fd);
      expect([r.mask, r.length]).toEqual([EVENT_WRITE, NOT_READ]);
      expect(b.state[0]).toBe(0);
      expect(a.recv(100)).toEqual(Buffer.from('pending'));
    });

    test('with less than 16 KiB of room the record is NO_ROOM and nothing is taken from the socket', () => {
      const b = openBatch(backend);
      // The slab is a view with a canary after it: a read past its end would show there.
      const backing = new Uint8Array(64 * KIB + 64).fill(0xaa);
      const slab = backing.subarray(0, 64 * KIB);
      const [a, pa] = connectedPair('socketpair');
      expect(b.sel.add(a.fd, EVENT_READ)).toBe(0);
      b.marks[a.fd] = MAX_READ;
      const data = pattern(40 * KIB, 8);
      expect(pa.send(data)).toBe(data.length);
      waitReadable(a);
      expect(NO_ROOM).toBe(-(2 ** 31) + 1);
      for (const at of [64 * KIB - MIN_ROOM + 1, 64 * KIB - 8, 64 * KIB, 64 * KIB + 8, 2 ** 31 - 1, -8, -(2 ** 31)]) {
        b.state[0] = at;
        const r = recordOf(b, b.sel.cycle(1000, 0, slab), a.fd);
        expect([r.offset, r.length], `state[0] = ${at}`).toEqual([at, NO_ROOM]);
        expect(b.state[0]).toBe(at);
      }
      expect(backing.every((x) => x === 0xaa)).toBe(true);
      // Exactly 16 KiB left: read, up to the end of the slab and not past it.
      b.state[0] = 64 * KIB - MIN_ROOM;
      let r = recordOf(b, b.sel.cycle(1000, 0, undefined), a.fd);
      expect([r.offset, r.length]).toEqual([64 * KIB - MIN_ROOM, MIN_ROOM]);
      expect(b.state[0]).toBe(64 * KIB);
      expect(Buffer.from(slab.subarray(64 * KIB - MIN_ROOM))).toEqual(data.subarray(0, MIN_ROOM));
      expect(backing.subarray(64 * KIB).every((x) => x === 0xaa)).toBe(true);
      // Now full: NO_ROOM again; a fresh slab takes the rest.
      r = recordOf(b, b.sel.cycle(1000, 0, undefined), a.fd);
      expect(r.length).toBe(NO_ROOM);
      b.state[0] = 0;
      const fresh = new Uint8Array(64 * KIB);
      r = recordOf(b, b.sel.cycle(1000, 0, fresh), a.fd);
      expect([r.offset, r.length]).toEqual([0, 24 * KIB]);
      expect(Buffer.from(fresh.subarray(0, 24 * KIB))).toEqual(data.subarray(MIN_ROOM));
    });

    test('a marked fd before any read slab was given is NO_ROOM, and stays unread', () => {
      const b = openBatch(backend);
      const [a, pa] = connectedPair('socketpair');
      expect(b.sel.add(a.fd, EVENT_READ)).toBe(0);
      b.marks[a.fd] = MAX_READ;
      pa.send('x');
      waitReadable(a);
      expect(recordOf(b, b.sel.cycle(1000, 0, undefined), a.fd).length).toBe(NO_ROOM);
      expect(b.sel.cycle(1000, 0, new Uint8Array(MIN_ROOM - 1))).toBe(1);
      expect(b.records[3]).toBe(NO_ROOM);
      expect(a.recv(10)).toEqual(Buffer.from('x'));
    });

    test('remove() and add() again: the fd is read only while its mark says so', () => {
      const b = openBatch(backend);
      const slab = new Uint8Array(64 * KIB);
      const [a, pa] = connectedPair('socketpair');
      expect(b.sel.add(a.fd, EVENT_READ)).toBe(0);
      b.marks[a.fd] = MAX_READ;
      pa.send('one');
      waitReadable(a);
      expect(recordOf(b, b.sel.cycle(1000, 0, slab), a.fd).length).toBe(3);
      expect(b.sel.remove(a.fd)).toBe(0);
      b.marks[a.fd] = 0; // what src/batch-io.ts detachSink() does
      pa.send('two');
      waitReadable(a);
      expect(b.sel.cycle(0, 0, undefined)).toBe(0); // not registered: not reported, not read
      expect(b.sel.add(a.fd, EVENT_READ)).toBe(0);
      expect(recordOf(b, b.sel.cycle(1000, 0, undefined), a.fd).length).toBe(NOT_READ);
      expect(a.recv(10)).toEqual(Buffer.from('two'));
    });

    test('a read slab whose ArrayBuffer was transferred away is never read into or sent from again', () => {
      const b = openBatch(backend);
      const [a, pa] = connectedPair('socketpair');
      const [c, pc] = connectedPair('socketpair');
      expect(b.sel.add(a.fd, EVENT_READ)).toBe(0);
      b.marks[a.fd] = MAX_READ;
      const slab = new Uint8Array(64 * KIB).fill(0x11);
      pa.send('first');
      waitReadable(a);
      expect(recordOf(b, b.sel.cycle(1000, 0, slab), a.fd)).toMatchObject({ offset: 0, length: 5 });
      // What a protocol might do with the bytes it was handed (views into this slab): move them
      // to another thread without a copy. The memory now belongs to `moved`.
      const moved = new Uint8Array(structuredClone(slab.buffer, { transfer: [slab.buffer] }));
      expect(slab.byteLength).toBe(0);
      const before = Buffer.from(moved);
      pa.send('second');
      waitReadable(a);
      expect(recordOf(b, b.sel.cycle(1000, 0, undefined), a.fd).length).toBe(NO_ROOM);
      setWrite(b, 0, c.fd, 1, 0, 5);
      expect(b.sel.flush(1)).toBe(0);
      expect(results(b, 1)).toEqual([-EINVAL]);
      setWrite(b, 0, c.fd, 1, 8, 5);
      expect(recordOf(b, b.sel.cycle(1000, 1, undefined), a.fd).length).toBe(NO_ROOM);
      expect(results(b, 1)).toEqual([-EINVAL]);
      expect(Buffer.from(moved)).toEqual(before);
      expect(readAll(pc, false).length).toBe(0);
      // A new slab brings the auto-reads back.
      const fresh = new Uint8Array(64 * KIB);
      b.state[0] = 0;
      expect(recordOf(b, b.sel.cycle(1000, 0, fresh), a.fd)).toMatchObject({ offset: 0, length: 6 });
      expect(Buffer.from(fresh.subarray(0, 6)).toString()).toBe('second');
      expect(Buffer.from(moved)).toEqual(before);
    });

    test('more ready fds than records: the cycle writes at most its capacity and reads only those it reports', () => {
      const sel = openHandle(backend);
      const backing = new Int32Array(3 * 4 + 8).fill(0x5a5a5a5a);
      const records = backing.subarray(0, 3 * 4 + 3); // 3 whole records; the 3 spare ints are not one
      const state = new Int32Array(1);
      const marks = new Int32Array(1024);
      sel.batchInit(records, new Int32Array(8), new Uint8Array(16), state);
      sel.batchMarks(marks);
      const socks: Socket[] = [];
      for (let i = 0; i < 6; i++) {
        const [s, p] = connectedPair('socketpair');
        expect(sel.add(s.fd, EVENT_READ)).toBe(0);
        marks[s.fd] = MAX_READ;
        p.send(pattern(100, i));
        waitReadable(s);
        socks.push(s);
      }
      const slab = new Uint8Array(256 * KIB);
      const n = sel.cycle(1000, 0, slab);
      expect(n).toBe(3);
      expect(backing.subarray(3 * 4).every((x) => x === 0x5a5a5a5a)).toBe(true);
      expect(state[0]).toBe(3 * align8(100));
      // The three reported were read; the others still hold their bytes.
      const reported = new Set([records[0], records[4], records[8]]);
      for (const s of socks) {
        const left = s.recvInto(Buffer.alloc(200));
        expect(left === null ? 0 : left).toBe(reported.has(s.fd) ? 0 : 100);
      }
    });
  });

  describe('a short flush makes cycle() poll', () => {
    // `a` cannot take another byte; `r` is registered for reading and a child writes to it after
    // FALLBACK_MS, so a cycle that waits when it should not returns late (and reports `r`) instead
    // of hanging; the watchdog ends the process if even that fails.
    const FALLBACK_MS = 2000;

    function setup() {
      const b = openBatch(backend);
      const [a, pa] = connectedPair('socketpair');
      smallBuffers(a);
      smallBuffers(pa);
      fillSocket(a);
      const [r, w] = pipe();
      expect(b.sel.add(r, EVENT_READ)).toBe(0);
      writeLater(w, FALLBACK_MS);
      return { b, a, pa, r };
    }

    test('timeout -1 with a write that does not go out whole: returns at once, nothing ready', () => {
      using _guard = watchdog(4 * FALLBACK_MS);
      const { b, a } = setup();
      setWrite(b, 0, a.fd, 0, 0, 100);
      const [n, ms] = timed(() => b.sel.cycle(-1, 1, undefined));
      expect(results(b, 1)).toEqual([0]);
      expect(ms).toBeLessThan(FALLBACK_MS / 2);
      expect(n).toBe(0);
    });

    test('timeout -1 with a write that fails (-EINVAL, -EPIPE): returns at once', () => {
      using _guard = watchdog(4 * FALLBACK_MS);
      const { b } = setup();
      const [c, pc] = connectedPair('socketpair');
      pc.close();
      setWrite(b, 0, c.fd, 0, -1, 1);
      let [n, ms] = timed(() => b.sel.cycle(-1, 1, undefined));
      expect(results(b, 1)).toEqual([-EINVAL]);
      expect([n, ms < FALLBACK_MS / 2]).toEqual([0, true]);
      setWrite(b, 0, c.fd, 0, 0, 1);
      [n, ms] = timed(() => b.sel.cycle(-1, 1, undefined));
      expect(results(b, 1)).toEqual([-EPIPE]);
      expect([n, ms < FALLBACK_MS / 2]).toEqual([0, true]);
    });

    test('control: writes that all go out (or are cancelled) leave the timeout as it was', () => {
      using _guard = watchdog(4 * FALLBACK_MS);
      const { b } = setup();
      const [c, pc] = connectedPair('socketpair');
      setWrite(b, 0, c.fd, 0, 0, 10);
      setWrite(b, 1, -1, 0, 0, 10);
      const [n, ms] = timed(() => b.sel.cycle(300, 2, undefined));
      expect(results(b, 2)).toEqual([10, 0]);
      expect(n).toBe(0);
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(readAll(pc).length).toBe(10);
    });

    test('control: the fallback really ends a wait of -1 (the child writes to the pipe)', () => {
      using _guard = watchdog(4 * FALLBACK_MS);
      const { b, r } = setup();
      const [n, ms] = timed(() => b.sel.cycle(-1, 0, undefined));
      expect(n).toBe(1);
      expect(recordOf(b, n, r).mask).toBe(EVENT_READ);
      expect(ms).toBeGreaterThan(FALLBACK_MS / 2);
    });
  });
});
