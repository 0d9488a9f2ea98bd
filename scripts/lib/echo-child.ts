// The echo server CLI (`iomux echo`) as a child process for the load and soak proofs: started
// with its soft fd limit raised to the hard one (Node has no setrlimit, so prlimit(1) does it),
// its output read line by line, and its memory and fds read from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/scripts/lib/). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli.js');

/** The hard RLIMIT_NOFILE of this process (what a child's soft limit may be raised to). */
export function hardFdLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('Max open files'));
  const hard = line?.split(/\s+/)[4];
  return hard === undefined || hard === 'unlimited' ? 1 << 20 : Number(hard);
}

/** Spawns `node args...` with the soft fd limit raised to the hard one. */
export function spawnNodeRaised(
  args: string[],
  stdio: Array<'pipe' | 'inherit' | 'ignore'> = ['ignore', 'pipe', 'pipe'],
): ChildProcess {
  const n = hardFdLimit();
  return spawn('prlimit', [`--nofile=${n}:${n}`, process.execPath, ...args], { stdio });
}

export interface EchoChild {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  /** Every stderr line so far. */
  readonly stderr: string[];
  /** Calls `fn` with each stderr line from now on. */
  onLine(fn: (line: string) => void): void;
  stop(): Promise<void>;
}

/** Starts `iomux echo --port 0 ...args`; resolves once it printed its listening line. */
export function startEcho(args: string[]): Promise<EchoChild> {
  const child = spawnNodeRaised([CLI, 'echo', '--port', '0', ...args]);
  const stderr: string[] = [];
  const listeners: Array<(line: string) => void> = [];
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line);
    for (const fn of listeners) fn(line);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the echo server did not listen within 10 s: ${stderr.join('\n')}`)),
      10_000,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the echo server exited (${code}) before listening: ${stderr.join('\n')}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = /listening on \S+:(\d+) /.exec(line);
      if (m === null) return;
      clearTimeout(timer);
      resolve({
        child,
        pid: child.pid!,
        port: Number(m[1]),
        stderr,
        onLine: (fn) => void listeners.push(fn),
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await exited;
        },
      });
    });
  });
}

/** Resident set size of `pid` in bytes (VmRSS in /proc/PID/status). */
export function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? NaN : Number(m[1]) * 1024;
}

/** How many fds `pid` has open. */
export function fdCountOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** `memory: rss 61.2 MiB, heap 9.8 MiB` (from --stats) to the heap in bytes, else null. */
export function heapFromLine(line: string): number | null {
  const m = /memory: rss [\d.]+ MiB, heap ([\d.]+) MiB$/.exec(line);
  return m === null ? null : Math.round(Number(m[1]) * 1024 * 1024);
}

/** `stats: 12 conns, ...` (from --stats) to the connection count, else null. */
export function connsFromLine(line: string): number | null {
  const m = /stats: (\d+) conns?,/.exec(line);
  return m === null ? null : Number(m[1]);
}
