// Helpers for testing the `iomux` CLI end to end: it runs as a child process (node
// dist/src/cli.js), clients are real sockets (Node's net), and what the server does is read from
// its output lines and from /proc.
//
// The CLI runs from dist/, which `npm test` builds before vitest starts (`npm run build:ts`).
//
// Everything started here is held in ./resources.ts: its cleanup() (run it in afterEach) kills every CLI process
// still running, the workers it reported, and destroys every client socket.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hold } from './resources.js';
import { sleep } from './sleep.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(ROOT, 'dist', 'src', 'cli.js');
const ADDON = join(ROOT, 'build', 'Release', 'iomux.node');
const CLOCK_TICKS_PER_SEC = 100; // getconf CLK_TCK on every Linux we run on

/** Fails clearly when the build `npm test` runs first (tsc into dist/, node-gyp) is missing. */
export function ensureBuilt(): void {
  if (!existsSync(ADDON)) throw new Error(`the native addon is missing (${ADDON}): run \`npm run build\` first`);
  if (!existsSync(CLI)) throw new Error(`the CLI is not built (${CLI}): run \`npm run build:ts\` first`);
}

// ---- the CLI as a child process -----------------------------------------------------------------

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly stdout: string[];
  readonly stderr: string[];
  readonly exited: Promise<Exit>;
  /** Resolves after the exit, once every output line has been read. */
  readonly closed: Promise<void>;
  /** Resolves with the first line (past or future) on `stream` that matches, or rejects after `ms`. */
  waitForLine(
    re: RegExp,
    opts?: { stream?: 'stdout' | 'stderr'; ms?: number; after?: number },
  ): Promise<RegExpExecArray>;
  /** Resolves with the exit, or rejects after `ms`. */
  waitForExit(ms?: number): Promise<Exit>;
}

export interface StartOptions {
  /** Runs the CLI under `prlimit --nofile=N:N`. */
  nofile?: number;
}

/** Spawns `node dist/src/cli.js ...args`, collecting its output lines. */
export function startCli(args: string[], opts: StartOptions = {}): CliProcess {
  const argv = [CLI, ...args];
  const child =
    opts.nofile === undefined
      ? spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] })
      : // prlimit execs the command, so the pid stays the server's.
        spawn('prlimit', [`--nofile=${opts.nofile}:${opts.nofile}`, process.execPath, ...argv], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
  const lines: Record<'stdout' | 'stderr', string[]> = { stdout: [], stderr: [] };
  const waiters: Array<{
    stream: 'stdout' | 'stderr';
    re: RegExp;
    from: number;
    resolve: (m: RegExpExecArray) => void;
  }> = [];
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  // 'close' comes after 'exit' once the pipes are drained too: every output line is in by then.
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  let exit: Exit | null = null;
  void exited.then((e) => {
    exit = e;
  });

  const feed = (stream: 'stdout' | 'stderr') => {
    let pending = '';
    child[stream].setEncoding('utf8');
    child[stream].on('data', (chunk: string) => {
      pending += chunk;
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        lines[stream].push(line);
        const pid = /worker \d+ started \(pid (\d+)\)/.exec(line);
        if (pid !== null) holdWorker(Number(pid[1]));
        for (let i = waiters.length - 1; i >= 0; i--) {
          const w = waiters[i];
          const m = w.stream === stream && lines[stream].length > w.from ? w.re.exec(line) : null;
          if (m !== null) {
            waiters.splice(i, 1);
            w.resolve(m);
          }
        }
      }
    });
  };
  feed('stdout');
  feed('stderr');

  const describe = () =>
    `exit ${JSON.stringify(exit)}\nstdout:\n${lines.stdout.join('\n')}\nstderr:\n${lines.stderr.join('\n')}`;
  const proc: CliProcess = {
    child,
    pid: child.pid!,
    stdout: lines.stdout,
    stderr: lines.stderr,
    exited,
    closed,
    waitForLine(re, { stream = 'stdout', ms = 5000, after = 0 } = {}) {
      for (let i = after; i < lines[stream].length; i++) {
        const m = re.exec(lines[stream][i]);
        if (m !== null) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const w = {
          stream,
          re,
          from: lines[stream].length,
          resolve: (m: RegExpExecArray) => {
            clearTimeout(timer);
            resolve(m);
          },
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`no ${stream} line matching ${re} within ${ms} ms\n${describe()}`));
        }, ms);
        waiters.push(w);
      });
    },
    waitForExit(ms = 5000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`still running after ${ms} ms\n${describe()}`)), ms);
        void exited.then((e) => {
          clearTimeout(timer);
          resolve(e);
        });
      });
    },
  };
  hold(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return proc;
}

export interface RunningEcho {
  proc: CliProcess;
  host: string;
  port: number;
  /** The listening line itself. */
  line: string;
}

const LISTENING =
  /^iomux echo listening on (?:\[([^\]]+)\]|([^:\s]+)):(\d+) \(backend (\w+), style (\w+), (\d+) workers?\)$/;

/** Starts `iomux echo --port 0 ...args` and waits for its listening line. */
export async function startEcho(args: string[], opts: StartOptions = {}): Promise<RunningEcho> {
  const proc = startCli(['echo', '--port', '0', ...args], opts);
  const m = await proc.waitForLine(LISTENING, { ms: 8000 });
  return { proc, host: m[1] ?? m[2], port: Number(m[3]), line: m[0] };
}

export function parseListening(
  line: string,
): { host: string; port: number; backend: string; style: string; workers: number } | null {
  const m = LISTENING.exec(line);
  return m === null
    ? null
    : { host: m[1] ?? m[2], port: Number(m[3]), backend: m[4], style: m[5], workers: Number(m[6]) };
}

/** Runs the CLI to completion (for --help and bad flags). */
export async function runCli(args: string[], ms = 8000): Promise<Exit & { stdout: string[]; stderr: string[] }> {
  const proc = startCli(args);
  const exit = await proc.waitForExit(ms);
  await proc.closed;
  return { ...exit, stdout: proc.stdout, stderr: proc.stderr };
}

// ---- clients --------------------------------------------------------------------------------------

/** A connected TCP (or Unix, with `path`) client, destroyed by cleanup(). */
export function connect(target: { port: number; host?: string } | { path: string }, ms = 3000): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = 'path' in target ? net.connect(target.path) : net.connect(target.port, target.host ?? '127.0.0.1');
    sock.on(
      'close',
      hold(() => {
        sock.destroy();
      }),
    );
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`connect timed out after ${ms} ms`));
    }, ms);
    sock.once('connect', () => {
      clearTimeout(timer);
      resolve(sock);
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Sends `data` and resolves with exactly as many bytes read back, or rejects after `ms`. */
export function roundTrip(sock: net.Socket, data: Buffer | string, ms = 3000): Promise<Buffer> {
  const want = typeof data === 'string' ? Buffer.from(data) : data;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const done = (err: Error | null) => {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('close', onClose);
      sock.off('error', onError);
      if (err !== null) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= want.length) done(null);
    };
    const onClose = () => done(new Error(`closed after ${got} of ${want.length} bytes`));
    const onError = (err: Error) => done(err);
    const timer = setTimeout(
      () => done(new Error(`echo timed out after ${ms} ms (${got} of ${want.length} bytes)`)),
      ms,
    );
    sock.on('data', onData);
    sock.once('close', onClose);
    sock.once('error', onError);
    sock.write(want);
  });
}

/**
 * A client that writes without reading until the server stops reading from it (backpressure):
 * the server then owes it an echo, which holds that connection open through a graceful stop.
 */
export async function owedClient(target: { port: number; host?: string }): Promise<net.Socket> {
  const sock = await connect(target);
  sock.pause();
  const chunk = Buffer.alloc(256 * 1024, 7);
  for (let i = 0; i < 512; i++) {
    if (sock.write(chunk)) continue;
    const drained = await Promise.race([
      new Promise<boolean>((resolve) => sock.once('drain', () => resolve(true))),
      sleep(400).then(() => false),
    ]);
    if (!drained) return sock;
  }
  throw new Error('the server never pushed back');
}

/** Resolves with how long until the server closed `sock` (its 'end' or 'close'), or rejects after `ms`. */
export function closedByServer(sock: net.Socket, ms = 3000): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    if (sock.readableEnded || sock.destroyed) return resolve(0);
    const timer = setTimeout(() => reject(new Error(`the server did not close the connection within ${ms} ms`)), ms);
    const done = () => {
      clearTimeout(timer);
      resolve(performance.now() - start);
    };
    sock.once('end', done);
    sock.once('close', done);
    sock.on('error', () => {});
    sock.resume();
  });
}

/** Rejects unless a connection to the port is refused (nothing listens there). */
export async function expectRefused(port: number, host = '127.0.0.1'): Promise<void> {
  try {
    const sock = await connect({ port, host }, 2000);
    sock.destroy();
  } catch (err) {
    if ((err as { code?: string }).code === 'ECONNREFUSED') return;
    throw err;
  }
  throw new Error(`port ${port} still accepts connections`);
}

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A Node server holding a port (for "port in use"); closed by cleanup(). */
export async function occupyPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  hold(() => void server.close());
  return (server.address() as net.AddressInfo).port;
}

// ---- /proc ----------------------------------------------------------------------------------------

/** User + system CPU time of a process so far, in ms. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the ')' that closes the command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SEC;
}

/** Resident set size of a process, in MiB (VmRSS in /proc/PID/status). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) / 1024;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie is dead for our purposes.
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Resolves once `pid` is gone, or rejects after `ms`. */
export async function waitForDeath(pid: number, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (isAlive(pid)) {
    if (Date.now() > deadline) throw new Error(`pid ${pid} still alive after ${ms} ms`);
    await sleep(25);
  }
}

/** A worker the supervisor reported: SIGKILLed by cleanup() if it is still one of ours. */
function holdWorker(pid: number): void {
  hold(() => {
    // Only if it is still one of ours (the pid may have been reused since).
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('cli.js')) process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  });
}
