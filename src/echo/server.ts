// What the three echo styles share: the shape of a running server, its counters, and how a
// failed accept is reported. Each style lives in its own file (styles.ts picks one).
import type { Loop } from '../loop.js';
import type { Address } from '../socket.js';
import type { EchoOptions } from './options.js';
import type { Log } from './log.js';

/** Plain counters, bumped on the per-message path (two integer adds, nothing allocated). */
export interface EchoCounters {
  /** Connections open now. */
  conns: number;
  /** Reads that returned data, since start. */
  msgs: number;
  /** Bytes received (and echoed), since start. */
  bytes: number;
  /** Connections closed as soon as accepted: over --max-conns, or an fd select(2) cannot watch. */
  refused: number;
  /** Accepts that failed, mostly for lack of fds or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM). */
  acceptErrors: number;
}

export interface EchoServer {
  /** Where it listens (the real port when 0 was asked). */
  readonly address: Address;
  readonly counters: EchoCounters;
  /** Stops accepting: the listening socket is closed (a Unix socket file removed). */
  stopAccepting(): void;
  /**
   * Stops reading from every connection, lets each send back what it already read, then closes
   * it; calls `done` once none is left (at once if there are none).
   */
  drain(done: () => void): void;
  /** Closes every connection now; queued data is dropped. */
  abortAll(): void;
}

/** What a style needs besides the loop. */
export interface EchoContext {
  readonly opts: EchoOptions;
  readonly log: Log;
  readonly counters: EchoCounters;
}

export function newCounters(): EchoCounters {
  return { conns: 0, msgs: 0, bytes: 0, refused: 0, acceptErrors: 0 };
}

// A process out of fds retries accepting after this pause instead of spinning on a listening
// socket that stays readable (libuv and Tornado do likewise; transports.ts's Server uses 100 too).
export const ACCEPT_RETRY_MS = 100;
// At most this many accepts per wake-up, so one busy listener cannot starve the connections.
export const ACCEPTS_PER_WAKE = 64;
// One read takes at most this much (the transports' chunk size).
export const READ_CHUNK = 64 * 1024;

// The client gave up between the kernel's accept queue and us: not an error of ours.
const ABORTED_ERRORS = new Set(['ECONNABORTED', 'EPROTO']);
const ACCEPT_ERROR_LOG_EVERY_MS = 5000;

export type AcceptFailure = 'aborted' | 'retry';

/**
 * Classifies a failed accept: 'aborted' (ignore it and accept the next), or 'retry': pause
 * accepting and try again in ACCEPT_RETRY_MS. EMFILE/ENFILE/ENOBUFS/ENOMEM are the expected
 * ones; anything else is treated alike rather than spinning or dying. Reported at most every
 * 5 s, so a long fd shortage does not flood stderr.
 */
export function acceptFailed(ctx: EchoContext, loop: Loop, err: unknown): AcceptFailure {
  const code = (err as { code?: string }).code ?? '';
  if (ABORTED_ERRORS.has(code)) return 'aborted';
  reportAcceptError(ctx, loop, err as Error);
  return 'retry';
}

const lastReport = new WeakMap<EchoCounters, number>();

/** Counts a failed accept and logs it, at most once every 5 s. */
export function reportAcceptError(ctx: EchoContext, loop: Loop, err: Error): void {
  ctx.counters.acceptErrors++;
  const now = loop.time();
  const last = lastReport.get(ctx.counters);
  if (last !== undefined && now - last < ACCEPT_ERROR_LOG_EVERY_MS) return;
  lastReport.set(ctx.counters, now);
  ctx.log.info(`accept failed (${err.message}); pausing accepts, retrying every ${ACCEPT_RETRY_MS} ms ` +
    `(${ctx.counters.acceptErrors} so far)`);
}
