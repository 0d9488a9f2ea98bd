// The system under test for `npm run fuzz` and the model beside it, kept in one object because
// fd numbers come from the kernel: every operation acts on the real fds and then records what
// the kernel must now know (kernel-model.ts). One raw selector and one Loop per backend watch
// the same fds, so every backend sees exactly the same kernel state.
import { constants as osConstants } from 'node:os';
import { errnoError } from '../src/errors.js';
import { Loop } from '../src/loop.js';
import { native } from '../src/native.js';
import {
  availableBackends,
  createSelector,
  EVENT_READ,
  type BackendName,
  type BaseSelector,
} from '../src/selectors.js';
import { Socket } from '../src/socket.js';
import {
  expectedMask,
  isLive,
  newChannel,
  type Channel,
  type File,
  type PairKind,
  type Registration,
} from './kernel-model.js';

export const SLOTS = 6;
const EAGAIN = -osConstants.errno.EAGAIN;
const ECONNRESET = -osConstants.errno.ECONNRESET;

/** A registration on the raw selectors; `owner` is the Socket it was made through, if any. */
export interface SelReg extends Registration {
  owner: Socket | null;
}

export interface Slot {
  kind: PairKind;
  /** The watched end and its peer. */
  a: File;
  peer: File;
  /** The number the watched end was opened with (dups get others). */
  primary: number;
  peerFd: number;
  /** Socket kinds: the Socket that owns `primary` (closing it runs the close hooks). */
  sock: Socket | null;
}

export class Failure extends Error {}

export function check(cond: boolean, what: () => string): void {
  if (!cond) throw new Failure(what());
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}

function ok(rc: number, syscall: string): number {
  if (rc < 0) throw errnoError(rc, syscall);
  return rc;
}

export class World {
  readonly backends: BackendName[] = availableBackends();
  readonly selectors: BaseSelector[] = this.backends.map((b) => createSelector(b));
  readonly loops: Loop[] = this.backends.map((b) => new Loop({ backend: b }));
  readonly slots: Slot[] = [];
  /** What each open fd number refers to. */
  readonly fdTable = new Map<number, File>();
  readonly regs = new Map<number, SelReg>();
  /** Sockets whose close unregistered them: unregister(sock) returns their key once. */
  readonly closedKeys = new Set<Socket>();
  /** The Loops' readers (every Loop has the same ones). */
  readonly loopRegs = new Map<number, Registration>();
  /** Comparisons made (one per command, plus the one after setup). */
  steps = 0;
  /** Milliseconds spent waiting for TCP segments in flight (settling and retried comparisons). */
  waitedMs = 0;
  readonly #listener: number;
  readonly #listenPort: number;
  readonly #observer = createSelector('poll');
  readonly #extraFds = new Set<number>();

  constructor(kinds: PairKind[]) {
    const { AF_INET, SOCK_STREAM } = native.constants;
    this.#listener = ok(native.socket(AF_INET, SOCK_STREAM), 'socket');
    ok(native.bind(this.#listener, AF_INET, '127.0.0.1', 0), 'bind');
    ok(native.listen(this.#listener, 16), 'listen');
    const addr = native.getsockname(this.#listener);
    if (typeof addr === 'number') throw errnoError(addr, 'getsockname');
    this.#listenPort = addr.port;
    for (let i = 0; i < SLOTS; i++) this.slots.push(this.#open(kinds[i % kinds.length]));
    for (const loop of this.loops)
      loop.setExceptionHandler((err) => {
        throw err;
      });
  }

  // ---- opening and closing -----------------------------------------------------------------

  #open(kind: PairKind): Slot {
    let fds: [number, number];
    let channel: Channel;
    if (kind === 'pipe' || kind === 'pipe-w') {
      const p = native.pipe();
      if (typeof p === 'number') throw errnoError(p, 'pipe2');
      channel = newChannel('pipe');
      fds = kind === 'pipe' ? [p[0], p[1]] : [p[1], p[0]];
    } else if (kind === 'unix') {
      const p = native.socketpair();
      if (typeof p === 'number') throw errnoError(p, 'socketpair');
      channel = newChannel('unix');
      fds = p;
    } else {
      fds = this.#tcpPair();
      channel = newChannel('tcp');
    }
    // Side 0 of a pipe is its read end; for sockets side 0 is the watched end.
    const aSide = kind === 'pipe-w' ? 1 : 0;
    const a: File = { channel, side: aSide, fds: new Set([fds[0]]) };
    const peer: File = { channel, side: aSide === 0 ? 1 : 0, fds: new Set([fds[1]]) };
    this.fdTable.set(fds[0], a);
    this.fdTable.set(fds[1], peer);
    const sock = kind === 'unix' || kind === 'tcp' ? new Socket(fds[0], kind === 'unix' ? 'unix' : 'IPv4') : null;
    return { kind, a, peer, primary: fds[0], peerFd: fds[1], sock };
  }

  #tcpPair(): [number, number] {
    const { AF_INET, SOCK_STREAM, IPPROTO_TCP, TCP_NODELAY } = native.constants;
    const c = ok(native.socket(AF_INET, SOCK_STREAM), 'socket');
    const rc = native.connect(c, AF_INET, '127.0.0.1', this.#listenPort);
    if (rc < 0 && rc !== -osConstants.errno.EINPROGRESS) throw errnoError(rc, 'connect');
    let s = -1;
    for (let tries = 0; tries < 1000 && s < 0; tries++) {
      s = native.accept(this.#listener);
      if (s === EAGAIN) sleepMs(1);
      else ok(s, 'accept');
    }
    if (s < 0) throw new Error('fuzz: the loopback connection was not accepted in time');
    // No Nagle: every small write leaves at once, so the model's byte counts are what arrives.
    native.setsockopt(c, IPPROTO_TCP, TCP_NODELAY, 1);
    native.setsockopt(s, IPPROTO_TCP, TCP_NODELAY, 1);
    return [s, c];
  }

  /** Closes fd number `fd` of `file`; the file is gone with its last fd. */
  closeFd(file: File, fd: number, slot: Slot | null): void {
    if (slot !== null && slot.sock !== null && !slot.sock.closed && fd === slot.primary && slot.a.fds.has(fd)) {
      this.#runCloseHooks(slot.sock);
      slot.sock.close();
    } else {
      ok(native.close(fd), 'close');
    }
    this.#extraFds.delete(fd);
    file.fds.delete(fd);
    this.fdTable.delete(fd);
    if (file.fds.size > 0) return;
    const c = file.channel;
    const s = file.side;
    const o = s === 0 ? 1 : 0;
    c.closed[s] = true;
    // A socket closed with data it never read resets its peer (af_unix sk_err; TCP RST).
    // A TCP peer that already read our FIN returns EOF before the error (tcp_recvmsg checks
    // SOCK_DONE first; the RST in CLOSE_WAIT sets EPIPE, which only a write would see).
    if (c.kind !== 'pipe' && c.inbound[s] > 0 && !c.closed[o]) {
      if (c.kind === 'unix' || !c.shutWr[s]) c.reset[o] = true;
      if (c.kind === 'tcp') c.rst[o] = true;
    }
  }

  /** The model's side of Socket.close(): registrations it owns are unregistered (§6.1). */
  #runCloseHooks(sock: Socket): void {
    for (const [fd, reg] of this.regs) {
      if (reg.owner !== sock) continue;
      this.regs.delete(fd);
      this.closedKeys.add(sock);
    }
  }

  dup(file: File): number {
    const [any] = file.fds;
    const d = ok(native.dup(any), 'fcntl');
    file.fds.add(d);
    this.fdTable.set(d, file);
    this.#extraFds.add(d);
    return d;
  }

  /** Closes what is left of slot i and opens a new pair there (the kernel reuses low numbers). */
  reopen(i: number, kind: PairKind): void {
    const slot = this.slots[i];
    for (const file of [slot.a, slot.peer]) for (const fd of file.fds) this.closeFd(file, fd, slot);
    this.slots[i] = this.#open(kind);
  }

  /** Everything this world opened is closed; returns nothing left behind. */
  dispose(): void {
    for (const loop of this.loops) loop.close();
    for (const sel of this.selectors) sel.close();
    this.#observer.close();
    for (const slot of this.slots) {
      for (const file of [slot.a, slot.peer]) for (const fd of file.fds) this.closeFd(file, fd, slot);
    }
    native.close(this.#listener);
  }

  // ---- data ----------------------------------------------------------------------------------

  write(from: File, fd: number, bytes: number): void {
    const c = from.channel;
    const to = from.side === 0 ? 1 : 0;
    const n = ok(native.write(fd, Buffer.alloc(bytes, 'x'), 0, bytes), 'write');
    check(n === bytes, () => `a write of ${bytes} bytes took ${n}`);
    c.inbound[to] += bytes;
    if (c.kind === 'tcp') this.#settle(c, to);
  }

  /** Reads file `f` dry; returns 'ok' or the error the read ended with. */
  drain(f: File, fd: number): string {
    const buf = Buffer.alloc(64 * 1024);
    let outcome = 'ok';
    for (;;) {
      const n = native.read(fd, buf, 0, buf.length);
      if (n === EAGAIN || n === 0) break;
      if (n === ECONNRESET) {
        outcome = 'ECONNRESET';
        break;
      }
      if (n < 0) {
        outcome = `errno ${n}`;
        break;
      }
    }
    f.channel.inbound[f.side] = 0;
    f.channel.reset[f.side] = false;
    return outcome;
  }

  fill(f: File, fd: number): void {
    const chunk = Buffer.alloc(64 * 1024, 'f');
    let total = 0;
    for (;;) {
      const n = native.write(fd, chunk, 0, chunk.length);
      if (n === EAGAIN) break;
      total += ok(n, 'write');
    }
    f.channel.full[f.side] = true;
    f.channel.inbound[f.side === 0 ? 1 : 0] += total;
  }

  shutdownPeer(s: Slot): void {
    ok(native.shutdown(s.peerFd, native.constants.SHUT_WR), 'shutdown');
    s.a.channel.shutWr[s.peer.side] = true;
    this.settleClose(s.a.channel, s.a.side);
  }

  /** TCP over loopback is fast but not synchronous: wait until `side` sees what it was sent. */
  #settle(c: Channel, side: 0 | 1): void {
    const file = this.slots.flatMap((s) => [s.a, s.peer]).find((f) => f.channel === c && f.side === side);
    const [fd] = file?.fds ?? [];
    if (fd === undefined) return;
    this.#observer.register(fd, EVENT_READ);
    try {
      for (let i = 0; i < 500 && this.#observer.select(0).length === 0; i++) {
        sleepMs(1);
        this.waitedMs++;
      }
    } finally {
      this.#observer.unregister(fd);
    }
  }

  /** After a TCP peer's close: wait for its FIN or RST to reach `side`. */
  settleClose(c: Channel, side: 0 | 1): void {
    if (c.kind === 'tcp') this.#settle(c, side);
  }

  // ---- expectations ----------------------------------------------------------------------------

  /** The (fd, mask) pairs `backend` must report for the raw selectors' registrations. */
  expectedReady(backend: BackendName): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const reg of this.regs.values()) {
      const mask = expectedMask(backend, reg, this.fdTable.get(reg.fd));
      if (mask !== 0) out.push([reg.fd, mask]);
    }
    return out.sort((x, y) => x[0] - y[0]);
  }

  /**
   * Compares every selector's select(0) with the model, and the key maps with the model's
   * registrations. A TCP segment may still be on its way, so a mismatch is retried briefly.
   */
  compare(step: string): void {
    this.steps++;
    for (const [i, sel] of this.selectors.entries()) {
      const backend = this.backends[i];
      const want = JSON.stringify(this.expectedReady(backend));
      let got = '';
      for (let tries = 0; tries < 50; tries++) {
        got = JSON.stringify(
          sel
            .select(0)
            .map(([k, m]) => [k.fd, m])
            .sort((x, y) => x[0] - y[0]),
        );
        if (got === want) break;
        sleepMs(2);
        this.waitedMs += 2;
      }
      check(got === want, () => `${backend} after ${step}: ready ${got}, the model says ${want}`);
      const keys = JSON.stringify([...sel.getMap().values()].map((k) => [k.fd, k.events]).sort((x, y) => x[0] - y[0]));
      const wantKeys = JSON.stringify([...this.regs.values()].map((r) => [r.fd, r.events]).sort((x, y) => x[0] - y[0]));
      check(keys === wantKeys, () => `${backend} after ${step}: keys ${keys}, the model says ${wantKeys}`);
    }
  }

  /** Readers of the Loops that every backend must call in the next iteration. */
  loopReady(backend: BackendName): Set<number> {
    const out = new Set<number>();
    for (const reg of this.loopRegs.values()) {
      if (expectedMask(backend, reg, this.fdTable.get(reg.fd)) & EVENT_READ) out.add(reg.fd);
    }
    return out;
  }

  /** A registration every backend reports identically (live fd, not TCP, whose timing varies). */
  agreed(reg: Registration): boolean {
    return isLive(reg, this.fdTable.get(reg.fd)) && reg.file.channel.kind !== 'tcp';
  }

  /** Runs `fn` on every selector and returns each one's outcome: 'ok' or the error code. */
  outcomes(fn: (sel: BaseSelector) => unknown): string[] {
    return this.selectors.map((sel) => {
      try {
        fn(sel);
        return 'ok';
      } catch (err) {
        return String((err as { code?: unknown }).code ?? err);
      }
    });
  }

  /** Every fd number that refers to slot i's watched end. */
  watchedFds(i: number): number[] {
    return [...this.slots[i].a.fds].sort((x, y) => x - y);
  }
}

export { EVENT_READ };
