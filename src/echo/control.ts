// The pipe between the supervisor and one worker: the worker's fd 3 (a socketpair end the
// supervisor made with spawn's stdio). Workers send one JSON object per line; the supervisor
// sends nothing, so the worker only ever reads EOF from it, which means the supervisor is gone.
import { readSync, writeSync } from 'node:fs';
import type { Loop } from '../loop.js';
import type { StatsSample } from './stats.js';

export const WORKER_ENV = 'IOMUX_ECHO_WORKER';
export const WORKER_ID_ENV = 'IOMUX_ECHO_WORKER_ID';
export const CONTROL_FD = 3;
/** A worker's fd 4: the listening socket the supervisor opened, shared by every worker. */
export const LISTEN_FD = 4;

export type WorkerMessage = { type: 'listening'; port: number } | ({ type: 'stats' } & StatsSample);

export class ControlPipe {
  readonly id: number;
  readonly #fd: number;
  #watching: Loop | null = null;

  constructor(id: number, fd = CONTROL_FD) {
    this.id = id;
    this.#fd = fd;
  }

  /** One line to the supervisor; dropped if it is gone (EPIPE). */
  send(msg: WorkerMessage): void {
    try {
      writeSync(this.#fd, `${JSON.stringify(msg)}\n`);
    } catch {
      // the supervisor died; watch() notices and shuts us down
    }
  }

  /** Calls onGone once the supervisor's end closes (it died, even by SIGKILL). */
  watch(loop: Loop, onGone: () => void): void {
    const scratch = Buffer.allocUnsafe(64);
    this.#watching = loop;
    loop.addReader(this.#fd, () => {
      let n = 0;
      try {
        n = readSync(this.#fd, scratch); // readable: this returns at once
      } catch {
        // EBADF/ECONNRESET: gone as well
      }
      if (n > 0) return; // the supervisor sends nothing today; ignore
      this.unwatch();
      onGone();
    });
  }

  unwatch(): void {
    if (this.#watching === null) return;
    this.#watching.removeReader(this.#fd);
    this.#watching = null;
  }
}
