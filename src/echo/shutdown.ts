// Graceful shutdown. The first SIGINT or SIGTERM stops accepting, lets every open connection send
// back what it already read (for up to --grace ms), closes whatever is left, and stops the loop
// (the process then exits 0). A second signal exits at once with 130.
//
// Signals arrive through loop.addSignalHandler(): while run() blocks in the selector, Node's own
// process.on('SIGTERM') listeners would never get to run.
import type { Loop } from '../loop.js';
import type { Log } from './log.js';
import type { EchoServer } from './server.js';

export const EXIT_AT_ONCE = 130;

export interface ShutdownOptions {
  readonly graceMs: number;
  readonly log: Log;
  /** Stops the process's own timers and watchers (stats, the supervisor pipe) so run() can end. */
  readonly cleanup: () => void;
}

export class Shutdown {
  readonly #loop: Loop;
  readonly #server: EchoServer;
  readonly #opts: ShutdownOptions;
  #started = false;
  #finished = false;
  #grace: ReturnType<Loop['callLater']> | null = null;

  constructor(loop: Loop, server: EchoServer, opts: ShutdownOptions) {
    this.#loop = loop;
    this.#server = server;
    this.#opts = opts;
  }

  /** Handles SIGINT and SIGTERM from now on. */
  install(): void {
    this.#loop.addSignalHandler('SIGINT', () => this.begin('SIGINT'));
    this.#loop.addSignalHandler('SIGTERM', () => this.begin('SIGTERM'));
  }

  get started(): boolean { return this.#started; }

  /** Starts the graceful shutdown; called a second time, exits the process at once. */
  begin(reason: string): void {
    const { log, graceMs } = this.#opts;
    if (this.#started) {
      log.error(`${reason} again: exiting now`);
      process.exit(EXIT_AT_ONCE);
    }
    this.#started = true;
    const open = this.#server.counters.conns;
    log.info(`${reason}: shutting down; ${open} open connection${open === 1 ? '' : 's'} get up to ${graceMs} ms to finish`);
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
