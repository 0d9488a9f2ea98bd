// The N socketpairs of the pipes benchmark, and the one read callback both iomux variants share.
// This is bench/reference/pipes.c's read_cb, line for line, so the C reference, Python's
// selectors and iomux run the identical method.
import { native } from '../../src/native.js';
import { socketpair } from '../../src/socket.js';

const EAGAIN = -11;

/** Why a case cannot run here; printed as pipes_ref prints it, with the same exit codes. */
export class CaseUnavailable extends Error {
  constructor(readonly reason: 'fd_setsize' | 'fd_limit') {
    super(reason);
  }
}

export interface Pairs {
  readonly n: number;
  /** Read end of pair i: the one registered for READ. */
  readonly rfds: Int32Array;
  /** Write end of pair i. */
  readonly wfds: Int32Array;
  /** Highest fd of either end. */
  readonly maxFd: number;
}

/**
 * Opens n non-blocking Unix stream socketpairs. Node cannot raise RLIMIT_NOFILE itself, so
 * EMFILE/ENFILE becomes CaseUnavailable('fd_limit'); the C and Python references raise the soft
 * limit to the hard one first, which here changes nothing when soft == hard.
 * @param fdSetSize when set (select), an fd at or past it is CaseUnavailable('fd_setsize'),
 *   the same check pipes.c makes.
 */
export function openPairs(n: number, fdSetSize?: number): Pairs {
  const rfds = new Int32Array(n);
  const wfds = new Int32Array(n);
  let maxFd = -1;
  for (let i = 0; i < n; i++) {
    let pair;
    try {
      pair = socketpair();
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'EMFILE' || code === 'ENFILE') throw new CaseUnavailable('fd_limit');
      throw err;
    }
    // The Socket wrappers are dropped; the fds are the benchmark's, used through the raw addon.
    rfds[i] = pair[0].fd;
    wfds[i] = pair[1].fd;
    maxFd = Math.max(maxFd, rfds[i], wfds[i]);
    if (fdSetSize !== undefined && maxFd >= fdSetSize) throw new CaseUnavailable('fd_setsize');
  }
  return { n, rfds, wfds, maxFd };
}

/** One pipes case as a worker runs it: the pairs, and pipes.c's arguments. */
export interface PipesRun {
  readonly pairs: Pairs;
  readonly backend: string;
  readonly active: number;
  readonly writes: number;
  /** Recorded rounds, after the warm-up. */
  readonly rounds: number;
  /** Unrecorded rounds first, for this long. */
  readonly warmupMs: number;
}

/** µs per recorded round, how many warm-up rounds ran, and failed syscalls. */
export interface PipesOutcome {
  us: number[];
  warmupRounds: number;
  failures: number;
}

/**
 * One round's counters and the read callback. count: bytes read this round; fired: bytes sent
 * (seeds + chained writes); writes: chained writes still allowed. The round is over when
 * count === fired. All I/O goes through one preallocated 1-byte buffer, so an event allocates
 * nothing. recv/send (not read/write) because pipes.c uses them: the same syscalls per event.
 */
export class Chain {
  count = 0;
  fired = 0;
  writes = 0;
  failures = 0;
  readonly #byte = new Uint8Array([0x65]); // 'e', as pipes.c sends
  readonly #pairs: Pairs;

  constructor(pairs: Pairs) {
    this.#pairs = pairs;
  }

  /** Seeds one byte into each of `active` pairs spread evenly (pair i * (N / A)); not timed. */
  seed(active: number, writes: number): void {
    const { n, wfds } = this.#pairs;
    const space = Math.floor(n / active);
    this.fired = 0;
    for (let i = 0; i < active; i++) {
      if (native.send(wfds[i * space], this.#byte, 0, 1) === 1) this.fired++;
      else this.failures++;
    }
    this.count = 0;
    this.writes = writes;
  }

  /** pipes.c read_cb: read our byte, and while writes remain, send one to the next pair. */
  read(idx: number): void {
    const { n, rfds, wfds } = this.#pairs;
    const got = native.recv(rfds[idx], this.#byte, 0, 1);
    if (got >= 0) this.count += got;
    else if (got !== EAGAIN) this.failures++;
    if (this.writes !== 0) {
      let widx = idx + 1;
      if (widx >= n) widx -= n;
      // A failed send is counted, not fired, so the round still terminates (as in pipes.c).
      if (native.send(wfds[widx], this.#byte, 0, 1) === 1) this.fired++;
      else this.failures++;
      this.writes--;
    }
  }

  get done(): boolean {
    return this.count === this.fired;
  }
}

/**
 * The unrecorded warm-up before measuring, by time as in pipes.c --warmup-ms: V8 optimises the
 * dispatch path only after some tens of ms of running it (at A=1 the first ~40 rounds are up to
 * 1.6x slower than steady state), while the C and Python references are flat from round one.
 */
export class WarmUp {
  rounds = 0;
  #warming: boolean;
  readonly #until: number;

  constructor(ms: number) {
    this.#warming = ms > 0;
    this.#until = performance.now() + ms;
  }

  /** Called at the end of each round: true while that round is still part of the warm-up. */
  counts(now: number): boolean {
    if (!this.#warming) return false;
    this.rounds++;
    this.#warming = now < this.#until;
    return true;
  }
}
