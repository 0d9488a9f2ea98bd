// The operations `npm run fuzz` draws (fast-check model-based commands). Each one acts on every
// backend at once through World, checks that all of them gave the outcome the model predicts,
// and then that their ready sets and key maps still match the model.
import fc from 'fast-check';
import { EVENT_READ, EVENT_WRITE } from '../src/selectors.js';
import { epollRemove, type PairKind, type Registration } from './kernel-model.js';
import { SLOTS, check, type World } from './world.js';

type Cmd = fc.AsyncCommand<World, World, false>;

const RW = EVENT_READ | EVENT_WRITE;
const slot = fc.integer({ min: 0, max: SLOTS - 1 });
const pick = fc.nat({ max: 1 << 20 });
const events = fc.constantFrom(EVENT_READ, EVENT_WRITE, RW);
export const kinds = fc.constantFrom<PairKind>('pipe', 'pipe-w', 'unix', 'tcp');

function same(w: World, got: string[], want: string, step: string): void {
  check(
    got.every((g) => g === want),
    () => `${step}: outcomes ${w.backends.map((b, i) => `${b}=${got[i]}`).join(' ')}, the model says ${want}`,
  );
}

/** Runs a command's action, then compares every backend with the model. */
abstract class Base implements Cmd {
  check(_m: Readonly<World>): boolean {
    return true;
  }
  async run(_m: World, w: World): Promise<void> {
    this.act(w);
    w.compare(this.toString());
  }
  abstract act(w: World): void;
  abstract toString(): string;
}

class Register extends Base {
  constructor(
    readonly i: number,
    readonly which: number,
    readonly events: number,
    readonly viaSocket: boolean,
  ) {
    super();
  }
  act(w: World): void {
    const s = w.slots[this.i];
    const fds = w.watchedFds(this.i);
    if (fds.length === 0) return;
    const fd = fds[this.which % fds.length];
    const useSock = this.viaSocket && s.sock !== null && !s.sock.closed && fd === s.primary;
    const want = w.regs.has(fd) ? 'ERR_FD_ALREADY_REGISTERED' : 'ok';
    same(
      w,
      w.outcomes((sel) => sel.register(useSock ? s.sock! : fd, this.events)),
      want,
      this.toString(),
    );
    if (want === 'ok')
      w.regs.set(fd, { fd, events: this.events, file: s.a, epollFile: s.a, owner: useSock ? s.sock : null });
  }
  toString(): string {
    return `register(${this.i}#${this.which}, ${this.events}${this.viaSocket ? ', socket' : ''})`;
  }
}

class Modify extends Base {
  constructor(
    readonly which: number,
    readonly events: number,
  ) {
    super();
  }
  act(w: World): void {
    const regs = [...w.regs.values()].filter((r) => w.agreed(r) || r.file.fds.has(r.fd));
    if (regs.length === 0) return;
    const reg = regs[this.which % regs.length];
    // Only a live registration: on a closed or reused number epoll (which watches files) must
    // refuse where select and poll (which watch numbers) succeed, and the key maps would part.
    if (w.fdTable.get(reg.fd) !== reg.file) return;
    same(
      w,
      w.outcomes((sel) => sel.modify(reg.owner ?? reg.fd, this.events)),
      'ok',
      this.toString(),
    );
    reg.events = this.events;
  }
  toString(): string {
    return `modify(reg#${this.which}, ${this.events})`;
  }
}

class Unregister extends Base {
  constructor(
    readonly which: number,
    readonly viaSocket: boolean,
  ) {
    super();
  }
  act(w: World): void {
    const regs = [...w.regs.values()];
    if (regs.length === 0) return;
    const reg = regs[this.which % regs.length];
    const target = this.viaSocket && reg.owner !== null ? reg.owner : reg.fd;
    same(
      w,
      w.outcomes((sel) => sel.unregister(target)),
      'ok',
      this.toString(),
    );
    w.regs.delete(reg.fd);
    epollRemove(reg, w.regs.values(), w.fdTable);
  }
  toString(): string {
    return `unregister(reg#${this.which}${this.viaSocket ? ', socket' : ''})`;
  }
}

/** unregister(sock) after the Socket was closed: its close already did it; the key comes back once. */
class UnregisterClosedSocket extends Base {
  constructor(readonly i: number) {
    super();
  }
  act(w: World): void {
    const sock = w.slots[this.i].sock;
    if (sock === null || !sock.closed) return;
    const want = w.closedKeys.has(sock) ? 'ok' : 'ERR_FD_NOT_REGISTERED';
    same(
      w,
      w.outcomes((sel) => sel.unregister(sock)),
      want,
      this.toString(),
    );
    w.closedKeys.delete(sock);
  }
  toString(): string {
    return `unregisterClosedSocket(${this.i})`;
  }
}

class PeerWrite extends Base {
  constructor(
    readonly i: number,
    readonly bytes: number,
  ) {
    super();
  }
  act(w: World): void {
    const s = w.slots[this.i];
    const c = s.a.channel;
    if (s.kind === 'pipe-w' || c.closed[0] || c.closed[1] || c.shutWr[s.peer.side] || c.inbound[s.a.side] > 1 << 15)
      return;
    w.write(s.peer, s.peerFd, this.bytes);
  }
  toString(): string {
    return `peerWrite(${this.i}, ${this.bytes})`;
  }
}

class Write extends Base {
  constructor(
    readonly i: number,
    readonly bytes: number,
  ) {
    super();
  }
  act(w: World): void {
    const s = w.slots[this.i];
    const c = s.a.channel;
    const [fd] = s.a.fds;
    if (
      s.kind === 'pipe' ||
      fd === undefined ||
      c.closed[0] ||
      c.closed[1] ||
      c.full[s.a.side] ||
      c.inbound[s.peer.side] > 1 << 15
    )
      return;
    if (s.kind !== 'pipe-w' && c.shutWr[s.a.side]) return;
    w.write(s.a, fd, this.bytes);
  }
  toString(): string {
    return `write(${this.i}, ${this.bytes})`;
  }
}

class Drain extends Base {
  constructor(readonly i: number) {
    super();
  }
  act(w: World): void {
    const s = w.slots[this.i];
    const [fd] = s.a.fds;
    if (s.kind === 'pipe-w' || fd === undefined) return;
    const want = s.a.channel.reset[s.a.side] ? 'ECONNRESET' : 'ok';
    const got = w.drain(s.a, fd);
    check(got === want, () => `${this.toString()}: the read ended with ${got}, the model says ${want}`);
  }
  toString(): string {
    return `drain(${this.i})`;
  }
}

class Fill extends Base {
  constructor(readonly i: number) {
    super();
  }
  act(w: World): void {
    const s = w.slots[this.i];
    const c = s.a.channel;
    const [fd] = s.a.fds;
    // TCP is left out: how much a full connection holds moves while segments are acknowledged.
    if (
      (s.kind !== 'unix' && s.kind !== 'pipe-w') ||
      fd === undefined ||
      c.closed[0] ||
      c.closed[1] ||
      c.shutWr[s.a.side]
    )
      return;
    w.fill(s.a, fd);
  }
  toString(): string {
    return `fill(${this.i})`;
  }
}

class PeerDrain extends Base {
  constructor(readonly i: number) {
    super();
  }
  act(w: World): void {
    const s = w.slots[this.i];
    const c = s.a.channel;
    if (s.kind === 'pipe' || c.closed[s.peer.side]) return;
    w.drain(s.peer, s.peerFd); // the peer is not watched: whatever its read ends with is fine
    c.full[s.a.side] = false;
  }
  toString(): string {
    return `peerDrain(${this.i})`;
  }
}

class PeerShutdown extends Base {
  constructor(readonly i: number) {
    super();
  }
  act(w: World): void {
    const s = w.slots[this.i];
    const c = s.a.channel;
    if ((s.kind !== 'unix' && s.kind !== 'tcp') || c.closed[0] || c.closed[1] || c.shutWr[s.peer.side]) return;
    w.shutdownPeer(s);
  }
  toString(): string {
    return `peerShutdown(${this.i})`;
  }
}

class PeerClose extends Base {
  constructor(readonly i: number) {
    super();
  }
  act(w: World): void {
    const s = w.slots[this.i];
    if (s.peer.fds.size === 0) return;
    w.closeFd(s.peer, s.peerFd, s);
    w.settleClose(s.a.channel, s.a.side);
  }
  toString(): string {
    return `peerClose(${this.i})`;
  }
}

/** Closes one fd of the watched end: registered or not, dup or not (close-before-unregister). */
class Close extends Base {
  constructor(
    readonly i: number,
    readonly which: number,
  ) {
    super();
  }
  act(w: World): void {
    const fds = w.watchedFds(this.i);
    if (fds.length === 0) return;
    const s = w.slots[this.i];
    w.closeFd(s.a, fds[this.which % fds.length], s);
  }
  toString(): string {
    return `close(${this.i}#${this.which})`;
  }
}

class Dup extends Base {
  constructor(readonly i: number) {
    super();
  }
  act(w: World): void {
    const s = w.slots[this.i];
    if (s.a.fds.size === 0 || s.a.fds.size > 2) return;
    w.dup(s.a);
  }
  toString(): string {
    return `dup(${this.i})`;
  }
}

/** A new pair in slot i once its watched end is closed: the kernel hands out freed numbers again. */
class Reopen extends Base {
  constructor(
    readonly i: number,
    readonly kind: PairKind,
  ) {
    super();
  }
  act(w: World): void {
    if (w.slots[this.i].a.fds.size > 0) return;
    w.reopen(this.i, this.kind);
  }
  toString(): string {
    return `reopen(${this.i}, ${this.kind})`;
  }
}

class LoopAdd extends Base {
  constructor(
    readonly i: number,
    readonly which: number,
  ) {
    super();
  }
  act(w: World): void {
    const fds = w.watchedFds(this.i);
    if (fds.length === 0) return;
    const fd = fds[this.which % fds.length];
    if (w.loopRegs.has(fd)) return; // a number already watched (maybe reused): not a fair question
    for (const loop of w.loops) loop.addReader(fd, () => {});
    w.loopRegs.set(fd, { fd, events: EVENT_READ, file: w.slots[this.i].a, epollFile: w.slots[this.i].a });
  }
  toString(): string {
    return `loopAdd(${this.i}#${this.which})`;
  }
}

class LoopRemove extends Base {
  constructor(readonly which: number) {
    super();
  }
  act(w: World): void {
    const regs = [...w.loopRegs.values()];
    if (regs.length === 0) return;
    const reg = regs[this.which % regs.length];
    const got = w.loops.map((loop) => String(loop.removeReader(reg.fd)));
    same(w, got, 'true', this.toString());
    w.loopRegs.delete(reg.fd);
    epollRemove(reg, w.loopRegs.values(), w.fdTable);
  }
  toString(): string {
    return `loopRemove(reg#${this.which})`;
  }
}

type Action =
  | { kind: 'none' }
  | { kind: 'removeSelf' }
  | { kind: 'remove'; fd: number }
  | { kind: 'add'; fd: number; file: Registration['file'] };

/**
 * One iteration of every Loop, whose ready readers add and remove readers from inside their
 * callbacks. Callbacks run in the order each backend reported, so the checks hold for any order:
 * a reader is called only if it was ready and still present, never twice, never in the batch it
 * was added in; a ready reader nobody removed is called. The actions are chosen so the readers
 * left afterwards do not depend on that order, and the model follows them.
 */
class LoopTurn implements Cmd {
  constructor(readonly seeds: number[]) {}
  check(): boolean {
    return true;
  }
  async run(_m: World, w: World): Promise<void> {
    const start = [...w.loopRegs.values()];
    const plan = this.#plan(w, start);
    const ready = w.backends.map((b) => w.loopReady(b));
    for (const [n, loop] of w.loops.entries()) {
      const backend = w.backends[n];
      const calls: number[] = [];
      const removed = new Set<number>();
      const added = new Set<number>();
      const callback = (fd: number) => (): void => {
        check(!removed.has(fd), () => `${backend} ${this.toString()}: reader ${fd} called after it was removed`);
        check(!added.has(fd), () => `${backend} ${this.toString()}: reader ${fd} called in the batch it was added in`);
        check(!calls.includes(fd), () => `${backend} ${this.toString()}: reader ${fd} called twice`);
        calls.push(fd);
        const act = plan.get(fd) ?? { kind: 'none' };
        if (act.kind === 'removeSelf') {
          loop.removeReader(fd);
          removed.add(fd);
        }
        if (act.kind === 'remove') {
          loop.removeReader(act.fd);
          removed.add(act.fd);
        }
        if (act.kind === 'add') {
          loop.addReader(act.fd, callback(act.fd));
          added.add(act.fd);
        }
      };
      for (const reg of start) loop.addReader(reg.fd, callback(reg.fd)); // fresh callbacks, same registration
      loop.callSoon(() => loop.stop());
      await loop.run();
      for (const fd of calls) {
        check(
          start.some((r) => r.fd === fd),
          () => `${backend} ${this.toString()}: reader ${fd} called but never added`,
        );
        check(
          ready[n].has(fd) || w.loopRegs.get(fd)!.file.channel.kind === 'tcp',
          () => `${backend} ${this.toString()}: reader ${fd} called but the model says it is not readable`,
        );
      }
      for (const fd of ready[n]) {
        const reg = w.loopRegs.get(fd)!;
        if (reg.file.channel.kind === 'tcp' || removed.has(fd)) continue;
        check(
          calls.includes(fd),
          () => `${backend} ${this.toString()}: reader ${fd} was ready but not called (calls ${JSON.stringify(calls)})`,
        );
      }
    }
    // Every backend called the action-bearing readers alike (they are agreed and ready on all).
    for (const [fd, act] of plan) {
      if (!ready[0].has(fd)) continue;
      const gone = act.kind === 'removeSelf' ? fd : act.kind === 'remove' ? act.fd : -1;
      const reg = w.loopRegs.get(gone);
      if (reg !== undefined) {
        w.loopRegs.delete(gone);
        epollRemove(reg, w.loopRegs.values(), w.fdTable);
      }
      if (act.kind === 'add')
        w.loopRegs.set(act.fd, { fd: act.fd, events: EVENT_READ, file: act.file, epollFile: act.file });
    }
    w.compare(this.toString());
  }

  #plan(w: World, start: Registration[]): Map<number, Action> {
    const plan = new Map<number, Action>();
    const targeted = new Set<number>();
    const candidates = w.slots
      .flatMap((s) => [...s.a.fds].map((fd) => ({ fd, file: s.a })))
      .filter((c) => !w.loopRegs.has(c.fd));
    for (const [k, reg] of start.entries()) {
      const r = this.seeds[k % this.seeds.length];
      // Only readers every backend sees alike may act, and never one another action targets.
      if (
        !w.agreed(reg) ||
        targeted.has(reg.fd) ||
        !w.backends.every((b) => w.loopReady(b).has(reg.fd) === w.loopReady(w.backends[0]).has(reg.fd))
      )
        continue;
      const choice = r % 4;
      if (choice === 1) plan.set(reg.fd, { kind: 'removeSelf' });
      if (choice === 2) {
        const other = start.find((o) => o.fd !== reg.fd && !plan.has(o.fd) && !targeted.has(o.fd));
        if (other !== undefined) {
          plan.set(reg.fd, { kind: 'remove', fd: other.fd });
          targeted.add(other.fd);
          plan.set(other.fd, { kind: 'none' });
        }
      }
      if (choice === 3) {
        const c = candidates.find((x) => !targeted.has(x.fd));
        if (c !== undefined) {
          plan.set(reg.fd, { kind: 'add', fd: c.fd, file: c.file });
          targeted.add(c.fd);
        }
      }
      targeted.add(reg.fd);
    }
    return plan;
  }

  toString(): string {
    return `loopTurn(${this.seeds.join(',')})`;
  }
}

const bytes = fc.integer({ min: 1, max: 4096 });

/** Every command, weighted toward the ones that change readiness. */
export const commandArbs: Array<fc.Arbitrary<Cmd>> = [
  fc.tuple(slot, pick, events, fc.boolean()).map(([i, p, e, s]) => new Register(i, p, e, s)),
  fc.tuple(slot, pick, events, fc.boolean()).map(([i, p, e, s]) => new Register(i, p, e, s)),
  fc.tuple(pick, events).map(([p, e]) => new Modify(p, e)),
  fc.tuple(pick, fc.boolean()).map(([p, s]) => new Unregister(p, s)),
  slot.map((i) => new UnregisterClosedSocket(i)),
  fc.tuple(slot, bytes).map(([i, n]) => new PeerWrite(i, n)),
  fc.tuple(slot, bytes).map(([i, n]) => new PeerWrite(i, n)),
  fc.tuple(slot, bytes).map(([i, n]) => new Write(i, n)),
  slot.map((i) => new Drain(i)),
  slot.map((i) => new Drain(i)),
  slot.map((i) => new Fill(i)),
  slot.map((i) => new PeerDrain(i)),
  slot.map((i) => new PeerShutdown(i)),
  slot.map((i) => new PeerClose(i)),
  fc.tuple(slot, pick).map(([i, p]) => new Close(i, p)),
  slot.map((i) => new Dup(i)),
  fc.tuple(slot, kinds).map(([i, k]) => new Reopen(i, k)),
  fc.tuple(slot, kinds).map(([i, k]) => new Reopen(i, k)),
  fc.tuple(slot, pick).map(([i, p]) => new LoopAdd(i, p)),
  pick.map((p) => new LoopRemove(p)),
  fc.array(fc.nat({ max: 1000 }), { minLength: 1, maxLength: 8 }).map((s) => new LoopTurn(s)),
];
