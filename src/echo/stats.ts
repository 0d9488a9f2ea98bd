// --stats: once a second, the counters turned into one line a person can watch. Rates are
// measured against the loop's clock, so a late tick still reports per-second figures.
import type { Loop } from '../loop.js';
import type { EchoCounters } from './contract.js';

export interface StatsSample {
  conns: number;
  msgsPerSec: number;
  bytesPerSec: number;
  /** Totals since start. */
  refused: number;
  acceptErrors: number;
}

export const STATS_PERIOD_MS = 1000;

export class StatsTicker {
  readonly #loop: Loop;
  readonly #counters: EchoCounters;
  readonly #sink: (s: StatsSample) => void;
  #timer: ReturnType<Loop['callLater']> | null = null;
  #lastAt = 0;
  #lastMsgs = 0;
  #lastBytes = 0;

  constructor(loop: Loop, counters: EchoCounters, sink: (s: StatsSample) => void) {
    this.#loop = loop;
    this.#counters = counters;
    this.#sink = sink;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#lastAt = this.#loop.time();
    this.#lastMsgs = this.#counters.msgs;
    this.#lastBytes = this.#counters.bytes;
    this.#timer = this.#loop.callLater(STATS_PERIOD_MS, this.#tick);
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = null;
  }

  #tick = (): void => {
    const now = this.#loop.time();
    const c = this.#counters;
    const seconds = Math.max(now - this.#lastAt, 1) / 1000;
    this.#sink({
      conns: c.conns,
      msgsPerSec: (c.msgs - this.#lastMsgs) / seconds,
      bytesPerSec: (c.bytes - this.#lastBytes) / seconds,
      refused: c.refused,
      acceptErrors: c.acceptErrors,
    });
    this.#lastAt = now;
    this.#lastMsgs = c.msgs;
    this.#lastBytes = c.bytes;
    this.#timer = this.#loop.callLater(STATS_PERIOD_MS, this.#tick);
  };
}

/** Adds up the workers' samples (the supervisor prints one line for all). */
export function sumSamples(samples: Iterable<StatsSample>): StatsSample {
  const total: StatsSample = { conns: 0, msgsPerSec: 0, bytesPerSec: 0, refused: 0, acceptErrors: 0 };
  for (const s of samples) {
    total.conns += s.conns;
    total.msgsPerSec += s.msgsPerSec;
    total.bytesPerSec += s.bytesPerSec;
    total.refused += s.refused;
    total.acceptErrors += s.acceptErrors;
  }
  return total;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB'];

function bytesRate(n: number): string {
  let i = 0;
  while (n >= 1024 && i < UNITS.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(n) : n.toFixed(1)} ${UNITS[i]}/s`;
}

/**
 * `stats: 12 conns, 48210 msgs/s, 3.1 MiB/s`, then the totals of refused connections (over
 * --max-conns, or an fd select cannot watch) and failed accepts, once there are some.
 */
export function formatStats(s: StatsSample): string {
  let line = `stats: ${s.conns} conn${s.conns === 1 ? '' : 's'}, ${Math.round(s.msgsPerSec)} msgs/s, ${bytesRate(s.bytesPerSec)}`;
  if (s.refused > 0) line += `, ${s.refused} refused`;
  if (s.acceptErrors > 0) line += `, ${s.acceptErrors} failed accepts`;
  return line;
}

/**
 * `memory: rss 61.2 MiB, heap 9.8 MiB` (V8's used heap): printed under each --stats line by a
 * single server, so a soak run can watch the process's memory from outside.
 */
export function formatMemory(m: { rss: number; heapUsed: number } = process.memoryUsage()): string {
  const mib = (n: number) => (n / (1024 * 1024)).toFixed(1);
  return `memory: rss ${mib(m.rss)} MiB, heap ${mib(m.heapUsed)} MiB`;
}

/** SIGUSR1's line: `status: 3 conns, 1200 msgs, 81920 bytes, 0 refused, 0 failed accepts` (totals). */
export function formatStatus(c: EchoCounters): string {
  return (
    `status: ${c.conns} conn${c.conns === 1 ? '' : 's'}, ${c.msgs} msgs, ${c.bytes} bytes, ` +
    `${c.refused} refused, ${c.acceptErrors} failed accepts`
  );
}
