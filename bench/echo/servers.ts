// The echo servers under test, and how one is started, watched and stopped: spawned pinned to
// its own CPU, ready once it prints its listening line, its CPU time read from /proc/PID/stat,
// and ended with SIGTERM (SIGKILL only if it ignores that).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { STYLES } from '../../src/echo/options.js';
import { availableBackends } from '../../src/selectors.js';
import { BUILT_CLI, BASELINE_SUFFIX, type Baseline } from '../report/baseline.js';
import type { BenchEnv } from '../report/env.js';
import { lastLine, pinned } from '../report/exec.js';

export type ServerKind = 'iomux' | 'node-net' | 'python' | 'uvloop' | 'gevent' | 'c';

export interface ServerSpec {
  /**
   * Stable name used in tables, JSON and filters: `iomux-epoll-callback` (its `-embedded` twin
   * serves from Node's event loop), `node-net`, `python` (selectors), `uvloop`, `gevent`, `c`;
   * an iomux server run from the --baseline checkout ends in `@base`.
   */
  id: string;
  kind: ServerKind;
  /** [file, args] with the port left to the kernel (--port 0), or why it cannot run. */
  command: [string, string[]] | { missing: string };
}

/** The echo server's styles, as the CLI lists them. */
export const ECHO_STYLES = STYLES;
/** The suffix of an iomux server run with --embedded (Node's event loop drives the Loop). */
export const EMBEDDED_SUFFIX = '-embedded';

/**
 * For an embedded iomux server's id, the id of the same server in owned mode (run()) from the
 * same checkout (a baseline's embedded server is held to the baseline's owned one); else null.
 */
export function ownedCounterpart(id: string): string | null {
  const base = id.endsWith(BASELINE_SUFFIX) ? BASELINE_SUFFIX : '';
  const server = id.slice(0, id.length - base.length);
  return server.startsWith('iomux-') && server.endsWith(EMBEDDED_SUFFIX)
    ? `${server.slice(0, -EMBEDDED_SUFFIX.length)}${base}`
    : null;
}
/** The CPU the server is pinned to; loadgen gets CPU 0. */
export const SERVER_CPU = 1;
export const LOADGEN_CPU = 0;
const READY_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 5_000;

/** One iomux echo server run from the checkout at `root`, its id ending in `suffix`. */
function iomuxSpec(root: string, backend: string, style: string, embedded: boolean, suffix: string): ServerSpec {
  const cli = join(root, BUILT_CLI);
  return {
    id: `iomux-${backend}-${style}${embedded ? EMBEDDED_SUFFIX : ''}${suffix}`,
    kind: 'iomux',
    command: existsSync(cli)
      ? [
          process.execPath,
          [
            cli,
            'echo',
            '--port',
            '0',
            '--backend',
            backend,
            '--style',
            style,
            '--quiet',
            ...(embedded ? ['--embedded'] : []),
          ],
        ]
      : { missing: 'dist/src/cli.js not built yet (src/cli.ts)' },
  };
}

export function serverSpecs(env: BenchEnv, baseline?: Baseline): ServerSpec[] {
  // With --baseline, each iomux server is followed by the same server from the baseline checkout,
  // so every table shows the two in adjacent rows.
  const builds: Array<[string, string]> = [[env.root, '']];
  if (baseline !== undefined) builds.push([baseline.root, BASELINE_SUFFIX]);
  const specs: ServerSpec[] = [];
  for (const backend of availableBackends()) {
    for (const style of ECHO_STYLES) {
      // Each server twice: owning its thread (run()), and embedded in Node's event loop.
      for (const embedded of [false, true]) {
        for (const [root, suffix] of builds) specs.push(iomuxSpec(root, backend, style, embedded, suffix));
      }
    }
  }
  specs.push({
    id: 'node-net',
    kind: 'node-net',
    command: [process.execPath, [join(env.root, 'dist', 'bench', 'echo', 'node-net-server.js'), '--port', '0']],
  });
  specs.push({
    id: 'python',
    kind: 'python',
    command: env.python.path
      ? [env.python.path, [join(env.root, 'bench', 'reference', 'echo.py'), '--port', '0']]
      : { missing: env.python.missing },
  });
  // The Python servers that need a module run on the interpreter found to have it (env.ts).
  for (const [id, tool] of [
    ['uvloop', env.uvloop],
    ['gevent', env.gevent],
  ] as const) {
    specs.push({
      id,
      kind: id,
      command: tool.path
        ? [tool.path, [join(env.root, 'bench', 'reference', `echo_${id}.py`), '--port', '0']]
        : { missing: tool.missing },
    });
  }
  specs.push({
    id: 'c',
    kind: 'c',
    command: env.echoRef.path ? [env.echoRef.path, ['--port', '0']] : { missing: env.echoRef.missing },
  });
  return specs;
}

/** The port in a listening line: `listening 40123` (references) or `… listening on 127.0.0.1:40123 …` (iomux). */
export function parseListeningPort(line: string): number | null {
  const m = /listening on \S*:(\d+)/.exec(line) ?? /listening (\d+)\b/.exec(line);
  return m ? Number(m[1]) : null;
}

export interface CpuTimes {
  /** Clock ticks (CLK_TCK per second) spent in user space, all threads of the process. */
  utime: number;
  stime: number;
}

/** utime and stime, fields 14 and 15 of /proc/PID/stat (proc(5)); null once the process is gone. */
export function readCpuTimes(pid: number): CpuTimes | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Field 2 (comm) is in parentheses and may hold spaces: count fields after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so field k is rest[k - 3].
  return { utime: Number(rest[14 - 3]), stime: Number(rest[15 - 3]) };
}

export class RunningServer {
  readonly spec: ServerSpec;
  readonly port: number;
  readonly #child: ChildProcess;
  #exited = false;
  #stderr = '';

  private constructor(spec: ServerSpec, child: ChildProcess, port: number) {
    this.spec = spec;
    this.#child = child;
    this.port = port;
    child.once('exit', () => {
      this.#exited = true;
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.#stderr = (this.#stderr + d.toString()).slice(-2000);
    });
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  get alive(): boolean {
    return !this.#exited;
  }

  /** The tail of what the server wrote on stderr (for a failure note). */
  get stderrTail(): string {
    return lastLine(this.#stderr);
  }

  /**
   * Starts the server pinned to SERVER_CPU (when taskset exists; taskset execs the server, so
   * the PID we read /proc for is the server's) and resolves once it prints its port.
   */
  static start(spec: ServerSpec, env: BenchEnv): Promise<RunningServer> {
    if ('missing' in spec.command) return Promise.reject(new Error(spec.command.missing));
    const [file, args] = pinned(env.taskset.path, SERVER_CPU, ...spec.command);
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: env.root });
    return new Promise((resolve, reject) => {
      let out = '';
      let err = '';
      const fail = (why: string): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        const tail = lastLine(err);
        reject(new Error(`${spec.id}: ${why}${tail ? ` (stderr: ${tail})` : ''}`));
      };
      const timer = setTimeout(() => fail(`no listening line within ${READY_TIMEOUT_MS / 1000} s`), READY_TIMEOUT_MS);
      const onErr = (d: Buffer): void => {
        err += d.toString();
      };
      const onOut = (d: Buffer): void => {
        out += d.toString();
        // Whole lines only: a line split across two reads would give the first digits of its port.
        for (const line of out.split('\n').slice(0, -1)) {
          const port = parseListeningPort(line);
          if (port !== null && port > 0) {
            clearTimeout(timer);
            child.stdout?.off('data', onOut);
            child.stderr?.off('data', onErr);
            child.off('close', onExit);
            child.stdout?.resume(); // keep draining so a chatty server never blocks on a full pipe
            resolve(new RunningServer(spec, child, port));
            return;
          }
        }
      };
      // 'close', not 'exit': it comes once stdout and stderr have ended, so every line the server
      // wrote is in `err` (an 'exit' can overtake the last 'data' event under load).
      const onExit = (code: number | null, sig: string | null): void =>
        fail(`exited before listening (${sig ?? `exit ${code}`})`);
      child.stdout?.on('data', onOut);
      child.stderr?.on('data', onErr);
      child.once('close', onExit);
      child.once('error', (e) => fail(e.message));
    });
  }

  cpuTimes(): CpuTimes | null {
    return this.#exited ? null : readCpuTimes(this.pid);
  }

  /** SIGTERM, then SIGKILL after STOP_GRACE_MS; resolves once the process is gone. */
  stop(): Promise<void> {
    if (this.#exited) return Promise.resolve();
    return new Promise((resolve) => {
      const kill = setTimeout(() => this.#child.kill('SIGKILL'), STOP_GRACE_MS);
      this.#child.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      this.#child.kill('SIGTERM');
    });
  }

  /** For the harness's own exit path: no waiting. */
  killNow(): void {
    if (!this.#exited) this.#child.kill('SIGKILL');
  }
}
