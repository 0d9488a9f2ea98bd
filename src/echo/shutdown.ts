// Graceful shutdown. The first stop signal (signals.ts) stops accepting, lets every open
// connection send back what it already read (for up to --grace ms), closes whatever is left, and
// stops the loop (the process then exits 0). A later signal exits at once with 130.
import type { Loop } from '../loop.js';
import type { Log } from './log.js';
import type { EchoServer } from './contract.js';
import { SAME_STOP_MS } from './signals.js';

export const EXIT_AT_ONCE = 130;

export interface ShutdownOptions {
  readonly graceMs: number;
  readonly log: Log;
  /** Stops the process's own timers and watchers (stats, the supervisor pipe) so run() can end. */
  readonly cleanup: () => void;
  /**
   * Whether a signal well after the first means "exit now". Not for a worker: every signal it gets
   * is a copy of the stop (the supervisor's forward, a service manager's); the supervisor alone
   * decides when to cut a stop short.
   */
  readonly laterSignalExits: boolean;
}

export class Shutdown {
  readonly #loop: Loop;
  readonly #server: EchoServer;
  readonly #opts: ShutdownOptions;
  #started = false;
  #startedAt = 0;
  #finished = false;
  #grace: ReturnType<Loop['callLater']> | null = null;

  constructor(loop: Loop, server: EchoServer, opts: ShutdownOptions) {
    this.#loop = loop;
    this.#server = server;
    this.#opts = opts;
  }

  get started(): boolean {
    return this.#started;
  }

  /**
   * Starts the graceful shutdown. A signal while it runs is a copy of the one that began it if it
   * comes within SAME_STOP_MS (ignored), else a request to exit at once (when laterSignalExits).
   */
  begin(reason: string, bySignal = false): void {
    const { log, graceMs } = this.#opts;
    if (this.#started) {
      if (!bySignal) return;
      if (this.#opts.laterSignalExits && this.#loop.time() - this.#startedAt > SAME_STOP_MS) {
        log.error(`${reason} again: exiting now`);
        process.exit(EXIT_AT_ONCE);
      }
      log.info(`${reason} during the stop: part of the same stop`);
      return;
    }
    this.#started = true;
    this.#startedAt = this.#loop.time();
    const open = this.#server.counters.conns;
    log.info(
      `${reason}: shutting down; ${open} open connection${open === 1 ? '' : 's'} get up to ${graceMs} ms to finish`,
    );
    this.#server.stopAccepting();
    this.#grace = this.#loop.callLater(graceMs, () => {
      const left = this.#server.counters.conns;
      if (left > 0) log.info(`grace period over: closing ${left} connection${left === 1 ? '' : 's'}`);
      this.#server.abortAll();
      this.#finish();
    });
    this.#server.drain(() => this.#finish());
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#grace?.cancel();
    this.#opts.cleanup();
    this.#loop.stop();
  }
}
