// The reference model for `npm run fuzz`: what the kernel knows about each open file, and from
// it, what each backend must report for a registered fd number (DESIGN §2, §3 and §6.1).
//
// Files, not fd numbers, hold state, as in the kernel: a dup is a second number for one file,
// and a registration made on number n keeps pointing at the file n had then. select and poll
// watch numbers (a closed number reports its asked bits; a reused one reports the new file);
// epoll watches files (a closed file is dropped, one kept open by a dup still reports under
// the old number until iomux rebuilds the instance on unregister).
import { EVENT_READ, EVENT_WRITE, type BackendName } from '../src/selectors.js';

export type PairKind = 'pipe' | 'pipe-w' | 'unix' | 'tcp';

/** The shared state of the two ends of a pipe or a connected socket pair. */
export interface Channel {
  readonly kind: 'pipe' | 'unix' | 'tcp';
  /** Bytes waiting to be read by side 0 / side 1 (a pipe's read end is side 0). */
  readonly inbound: [number, number];
  /** Side s filled its send buffer (pipes: the write end, side 1, filled the pipe). */
  readonly full: [boolean, boolean];
  readonly shutWr: [boolean, boolean];
  /** Every fd of side s is closed (the file is gone). */
  readonly closed: [boolean, boolean];
  /** Side s's next read past its data fails with ECONNRESET (its peer closed with unread data). */
  readonly reset: [boolean, boolean];
  /** TCP: side s got an RST, so it is closed for good (POLLHUP stays after the error is read). */
  readonly rst: [boolean, boolean];
}

export interface File {
  readonly channel: Channel;
  readonly side: 0 | 1;
  /** Open fd numbers that refer to this file. */
  readonly fds: Set<number>;
}

const IN = 1;
const OUT = 2;
const HUP = 4;
const ERR = 8;

export function newChannel(kind: Channel['kind']): Channel {
  return {
    kind,
    inbound: [0, 0],
    full: [false, false],
    shutWr: [false, false],
    closed: [false, false],
    reset: [false, false],
    rst: [false, false],
  };
}

/** poll(2)-style readiness of one open file. */
function pollBits(f: File): number {
  const c = f.channel;
  const s = f.side;
  const o = s === 0 ? 1 : 0;
  if (c.kind === 'pipe') {
    // Side 0 is the read end: POLLHUP once the writer is gone. Side 1, the write end: POLLERR
    // once the reader is gone (pipe_poll in fs/pipe.c).
    if (s === 0) return (c.inbound[0] > 0 ? IN : 0) | (c.closed[1] ? HUP : 0);
    return (c.full[1] ? 0 : OUT) | (c.closed[0] ? ERR : 0);
  }
  let bits = 0;
  if (c.inbound[s] > 0 || c.shutWr[o] || c.closed[o]) bits |= IN;
  if (!c.full[s] || c.closed[o]) bits |= OUT;
  if (c.kind === 'unix' && c.closed[o]) bits |= HUP; // the peer's release shuts both directions
  if (c.reset[s]) bits |= ERR | HUP;
  if (c.rst[s]) bits |= HUP;
  return bits;
}

/** The (READ|WRITE) mask a backend derives from poll bits; select(2) has no hang-up bit. */
function toMask(backend: BackendName, bits: number): number {
  let mask = 0;
  if (bits & (IN | HUP | ERR)) mask |= EVENT_READ;
  if (bits & (OUT | ERR)) mask |= EVENT_WRITE;
  if (backend !== 'select' && bits & HUP) mask |= EVENT_WRITE;
  return mask;
}

/** A registration of fd number `fd` for `events`, made while `fd` referred to `file`. */
export interface Registration {
  readonly fd: number;
  events: number;
  readonly file: File;
  /**
   * The file epoll watches for it: `file` until a rebuild (§6.1) re-adds the registrations by
   * number, which picks up whatever file the number refers to then (null: it was closed).
   */
  epollFile: File | null;
}

/**
 * epoll's side of unregistering `removed`: EPOLL_CTL_DEL reaches the entry only if the number
 * still refers to the file epoll watches; otherwise iomux rebuilds the instance from the
 * remaining registrations, by number.
 */
export function epollRemove(
  removed: Registration,
  rest: Iterable<Registration>,
  fdTable: ReadonlyMap<number, File>,
): void {
  if (removed.epollFile !== null && fdTable.get(removed.fd) === removed.epollFile) return;
  for (const reg of rest) reg.epollFile = fdTable.get(reg.fd) ?? null;
}

/**
 * What `backend` reports for a registration, given the file fd `reg.fd` refers to now
 * (undefined when that number is closed).
 */
export function expectedMask(backend: BackendName, reg: Registration, current: File | undefined): number {
  if (backend === 'select' || backend === 'poll') {
    if (current === undefined) return reg.events; // closed behind its back: the asked bits
    return toMask(backend, pollBits(current)) & reg.events;
  }
  // epoll (and kqueue): the watched file, as long as any fd keeps it open.
  const file = reg.epollFile;
  if (file === null || file.fds.size === 0) return 0;
  return toMask(backend, pollBits(file)) & reg.events;
}

/** Whether every backend sees the same thing for this registration (a live, unmoved fd). */
export function isLive(reg: Registration, current: File | undefined): boolean {
  return current === reg.file && reg.epollFile === reg.file;
}
