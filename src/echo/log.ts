// Output for the echo server. Every line is written with a synchronous write(2): while the iomux
// loop owns the thread, Node's own stream machinery would not run, so a buffered line might only
// appear after the server stopped.
import { writeSync } from 'node:fs';

const EAGAIN_RETRIES = 100;

function writeLine(fd: number, line: string): void {
  const buf = Buffer.from(`${line}\n`);
  let off = 0;
  for (let tries = 0; off < buf.length && tries < EAGAIN_RETRIES; tries++) {
    try {
      off += writeSync(fd, buf, off);
    } catch (err) {
      // A non-blocking stdio pipe that is full: try again. Anything else (EPIPE: the reader went
      // away) is not worth dying for.
      if ((err as { code?: string }).code !== 'EAGAIN') return;
    }
  }
}

export class Log {
  readonly quiet: boolean;
  readonly prefix: string;

  constructor(quiet: boolean, prefix = 'iomux echo') {
    this.quiet = quiet;
    this.prefix = prefix;
  }

  /** The listening line and other results: stdout, printed even when quiet. */
  result(line: string): void {
    writeLine(1, line);
  }

  /** Lifecycle news (workers, shutdown): stderr, silenced by --quiet. */
  info(message: string): void {
    if (!this.quiet) writeLine(2, `${this.prefix}: ${message}`);
  }

  /** The --stats line: stderr, printed even when quiet (it was asked for). */
  stats(line: string): void {
    writeLine(2, `${this.prefix}: ${line}`);
  }

  /** Failures: stderr, always. */
  error(message: string): void {
    writeLine(2, `${this.prefix}: ${message}`);
  }
}

/** `address already in use (EADDRINUSE)` from a Node-style system error, else its message. */
export function describeError(err: unknown): string {
  const e = err as { code?: unknown; syscall?: unknown; message?: unknown };
  if (typeof e?.code === 'string' && typeof e.syscall === 'string' && typeof e.message === 'string') {
    const m = /^[A-Z0-9_]+: (.*), [a-z_0-9]+$/.exec(e.message);
    if (m !== null) return `${m[1]} (${e.code})`;
  }
  return typeof e?.message === 'string' ? e.message : String(err);
}
