// The contract every echo style implements (callback.ts, protocol.ts, async.ts; run.ts picks
// one): the shape of a running server, its counters, and the policy all three follow for a
// failed accept and for a connection the loop cannot watch.
import type { Loop } from '../loop.js';
import type { Address } from '../socket.js';
import type { EchoOptions } from './options.js';
import type { Log } from './log.js';
import { ACCEPT_RETRY_MS, classifyAcceptError } from '../accept.js';

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

// One read takes at most this much (the transports' chunk size).
export const READ_CHUNK = 64 * 1024;
// A long fd shortage, or a flood past FD_SETSIZE, is reported at most this often.
const REPORT_EVERY_MS = 5000;

export type AcceptOutcome = 'aborted' | 'retry';

/**
 * What the echo server does with a failed accept (the classification is accept.ts's): an aborted
 * one is ignored; anything else pauses accepting for ACCEPT_RETRY_MS, reported and counted. Even
 * an unexpected error is retried rather than spinning or dying.
 */
export function acceptFailed(ctx: EchoContext, loop: Loop, err: unknown): AcceptOutcome {
  if (classifyAcceptError(err) === 'aborted') return 'aborted';
  reportAcceptError(ctx, loop, err as Error);
  return 'retry';
}

const lastAcceptReport = new WeakMap<EchoCounters, number>();
const lastRefusalReport = new WeakMap<EchoCounters, number>();

function due(last: WeakMap<EchoCounters, number>, counters: EchoCounters, now: number): boolean {
  const at = last.get(counters);
  if (at !== undefined && now - at < REPORT_EVERY_MS) return false;
  last.set(counters, now);
  return true;
}

/** Counts a failed accept and logs it, at most once every 5 s. */
export function reportAcceptError(ctx: EchoContext, loop: Loop, err: Error): void {
  ctx.counters.acceptErrors++;
  if (!due(lastAcceptReport, ctx.counters, loop.time())) return;
  ctx.log.info(
    `accept failed (${err.message}); pausing accepts, retrying every ${ACCEPT_RETRY_MS} ms ` +
      `(${ctx.counters.acceptErrors} so far)`,
  );
}

/**
 * A connection the loop cannot watch (select and an fd >= FD_SETSIZE): the same policy in every
 * style. It is closed (by the caller), counted as refused for --stats, and logged at most once
 * every 5 s.
 */
export function turnedAway(ctx: EchoContext, loop: Loop, err: Error): void {
  ctx.counters.refused++;
  if (!due(lastRefusalReport, ctx.counters, loop.time())) return;
  ctx.log.info(
    `turned away a connection the ${ctx.opts.backend} backend cannot watch (${err.message}); ` +
      `${ctx.counters.refused} refused so far (poll or epoll have no such limit)`,
  );
}
