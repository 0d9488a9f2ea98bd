// The echo benchmark: each server in turn, driven by bench/loadgen over a matrix of connections
// (C), message size (S) and messages in flight per connection (K). The server is pinned to CPU 1
// and loadgen to CPU 0, so they never compete for a core; the server's user CPU time is read
// from /proc before and after each loadgen run.
//
// Each cell is run --repeat times (default 3), round-robin over all servers, and the run with the
// median msgs/s is reported.
//
// CPU per message = (utime after - utime before) / messages loadgen counted. loadgen runs with
// --warmup 0, so its window covers the whole run except connecting and the last round trips in
// flight: the server's accept and close work is charged to the messages (a slight overestimate,
// the same for every server). utime moves in ticks (1/CLK_TCK s, 10 ms here), so a cell of D
// seconds resolves CPU to about 1/(D * CLK_TCK) of a busy core.
import type { Baseline } from '../report/baseline.js';
import type { BenchEnv } from '../report/env.js';
import { lastLine, pinned, runJson } from '../report/exec.js';
import type { Progress } from '../report/progress.js';
import { LOADGEN_CPU, RunningServer, serverSpecs, type ServerKind, type ServerSpec } from './servers.js';

export interface EchoCell {
  conns: number;
  size: number;
  inflight: number;
}

export interface EchoCase extends EchoCell {
  id: string;
  server: string;
  kind: ServerKind;
}

export interface EchoResult extends EchoCase {
  status: 'ok' | 'missing' | 'error';
  note: string;
  durationS: number | null;
  /** Wall time of the whole loadgen process (connecting and closing included), in s. */
  loadgenWallS: number | null;
  msgs: number | null;
  msgsPerS: number | null;
  mibPerS: number | null;
  p50Us: number | null;
  p99Us: number | null;
  p999Us: number | null;
  /** Server user/system CPU over the loadgen run, in µs per counted message. */
  userCpuUsPerMsg: number | null;
  sysCpuUsPerMsg: number | null;
  /** The server's user CPU seconds per second of loadgen's measured window. */
  userCpuShare: number | null;
  /** User + system CPU seconds per second of the measured window (about 1 = the server's core saturated). */
  cpuShare: number | null;
  /** The raw utime/stime deltas in clock ticks; 0 ticks means "below one tick", not "free". */
  userTicks: number | null;
  sysTicks: number | null;
  /** One tick in µs per message: the resolution of the CPU columns for this cell. */
  cpuResolutionUsPerMsg: number | null;
  /**
   * Every loadgen run of this cell (--repeat), in the order run. The fields above are those of
   * the run with the median msgs/s, kept whole so one row's numbers all come from one run.
   */
  runs: EchoRun[];
  /** (max - min) / median of msgs/s over the runs: how much this cell moved between repeats. */
  msgsPerSSpread: number | null;
}

export type EchoRun = Pick<
  EchoResult,
  'msgsPerS' | 'p50Us' | 'p99Us' | 'p999Us' | 'userCpuUsPerMsg' | 'sysCpuUsPerMsg' | 'cpuShare'
>;

export interface EchoOptions {
  quick: boolean;
  durationS: number;
  /** loadgen runs per cell; the median one (by msgs/s) is reported. */
  repeat: number;
  filter: (id: string) => boolean;
  /** --baseline: the checkout whose iomux servers also run, ids suffixed `@base`. */
  baseline?: Baseline;
}

// Ascending C: a server that cannot take 1000 connections (select: FD_SETSIZE) fails last.
const FULL = { conns: [1, 10, 100, 1000], sizes: [64, 16384], inflight: [1, 16] };

export function echoMatrix(quick: boolean): EchoCell[] {
  if (quick) {
    // The cells the targets name: 100 connections ping-pong and pipelined, 16 KiB at 10.
    return [
      { conns: 1, size: 64, inflight: 1 },
      { conns: 100, size: 64, inflight: 1 },
      { conns: 100, size: 64, inflight: 16 },
      { conns: 10, size: 16384, inflight: 1 },
    ];
  }
  const cells: EchoCell[] = [];
  for (const conns of FULL.conns) {
    for (const size of FULL.sizes) {
      for (const inflight of FULL.inflight) cells.push({ conns, size, inflight });
    }
  }
  return cells;
}

export function cellLabel(c: EchoCell): string {
  return `C=${c.conns} S=${c.size >= 1024 ? `${c.size / 1024}KiB` : `${c.size}B`} K=${c.inflight}`;
}

export function planEcho(env: BenchEnv, opts: EchoOptions): { specs: ServerSpec[]; cases: EchoCase[] } {
  const cases: EchoCase[] = [];
  const specs: ServerSpec[] = [];
  for (const spec of serverSpecs(env, opts.baseline)) {
    let any = false;
    for (const cell of echoMatrix(opts.quick)) {
      const id = `echo/${spec.id}/c${cell.conns}-s${cell.size}-k${cell.inflight}`;
      if (!opts.filter(id)) continue;
      cases.push({ id, server: spec.id, kind: spec.kind, ...cell });
      any = true;
    }
    if (any) specs.push(spec);
  }
  return { specs, cases };
}

function empty(c: EchoCase, status: EchoResult['status'], note: string): EchoResult {
  return {
    ...c,
    status,
    note,
    durationS: null,
    loadgenWallS: null,
    msgs: null,
    msgsPerS: null,
    mibPerS: null,
    p50Us: null,
    p99Us: null,
    p999Us: null,
    userCpuUsPerMsg: null,
    sysCpuUsPerMsg: null,
    userCpuShare: null,
    cpuShare: null,
    userTicks: null,
    sysTicks: null,
    cpuResolutionUsPerMsg: null,
    runs: [],
    msgsPerSSpread: null,
  };
}

function loadgenArgs(port: number, cell: EchoCell, durationS: number): string[] {
  return [
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--conns',
    String(cell.conns),
    '--size',
    String(cell.size),
    '--inflight',
    String(cell.inflight),
    '--duration',
    String(durationS),
    '--warmup',
    '0',
  ];
}

async function measureOnce(env: BenchEnv, server: RunningServer, c: EchoCase, durationS: number): Promise<EchoResult> {
  const loadgen = env.loadgen.path;
  if (loadgen === null) return empty(c, 'missing', env.loadgen.missing);
  const [file, args] = pinned(env.taskset.path, LOADGEN_CPU, loadgen, loadgenArgs(server.port, c, durationS));
  const before = server.cpuTimes();
  const t0 = performance.now();
  const run = await runJson(file, args, (durationS + 60) * 1000);
  const wallS = (performance.now() - t0) / 1000;
  const after = server.cpuTimes();
  const j = run.json;
  if (j === null || run.problem !== '') return empty(c, 'error', `error: loadgen ${run.problem}`);
  const errors = Number(j.errors);
  if (typeof j.error === 'string' || errors > 0 || run.code !== 0) {
    const why = typeof j.error === 'string' ? j.error : `${errors} connection errors`;
    const tail = server.alive
      ? lastLine(run.stderr)
      : `server exited${server.stderrTail ? `: ${server.stderrTail}` : ''}`;
    return empty(c, 'error', `error: ${why}${tail ? ` (${tail})` : ''}`);
  }
  const msgs = Number(j.msgs);
  const res: EchoResult = {
    ...empty(c, 'ok', ''),
    durationS: Number(j.duration_s),
    loadgenWallS: wallS,
    msgs,
    msgsPerS: Number(j.msgs_per_s),
    mibPerS: Number(j.mib_per_s),
    p50Us: Number(j.p50_us),
    p99Us: Number(j.p99_us),
    p999Us: Number(j.p999_us),
  };
  if (msgs === 0) return { ...res, status: 'error', note: 'error: no message came back' };
  if (before !== null && after !== null) {
    const tickUs = 1e6 / env.clkTck;
    res.userTicks = after.utime - before.utime;
    res.sysTicks = after.stime - before.stime;
    res.userCpuUsPerMsg = (res.userTicks * tickUs) / msgs;
    res.sysCpuUsPerMsg = (res.sysTicks * tickUs) / msgs;
    res.cpuResolutionUsPerMsg = tickUs / msgs;
    res.userCpuShare = res.userTicks / env.clkTck / Number(j.duration_s);
    // Per second of loadgen's measured window. The CPU deltas also cover connecting and closing,
    // so with many connections (C=1000) this can pass 100%; loadgenWallS gives the other view.
    res.cpuShare = (res.userTicks + res.sysTicks) / env.clkTck / Number(j.duration_s);
  } else {
    res.note = 'server CPU time unreadable (server gone?)';
  }
  return res;
}

/**
 * Of several runs of one cell, the one with the median msgs/s, with every run kept beside it. The
 * median, not the mean: this machine's results are bimodal at times (a server that goes idle
 * between messages pays the VM's wake-up latency) and one run can land in either mode; the
 * spread column says how far apart they were.
 */
export function medianRun(all: EchoResult[]): EchoResult {
  const byRate = [...all].sort((a, b) => (a.msgsPerS ?? 0) - (b.msgsPerS ?? 0));
  const mid = byRate[Math.floor((byRate.length - 1) / 2)];
  const rates = byRate.map((r) => r.msgsPerS ?? 0);
  const runs: EchoRun[] = all.map(({ msgsPerS, p50Us, p99Us, p999Us, userCpuUsPerMsg, sysCpuUsPerMsg, cpuShare }) => ({
    msgsPerS,
    p50Us,
    p99Us,
    p999Us,
    userCpuUsPerMsg,
    sysCpuUsPerMsg,
    cpuShare,
  }));
  const median = mid.msgsPerS ?? 0;
  return { ...mid, runs, msgsPerSSpread: median > 0 ? (rates[rates.length - 1] - rates[0]) / median : null };
}

/** A short untimed run so JIT-compiled servers are measured warm, not while they compile. */
async function warmUp(env: BenchEnv, server: RunningServer, quick: boolean): Promise<void> {
  if (env.loadgen.path === null) return;
  const [file, args] = pinned(
    env.taskset.path,
    LOADGEN_CPU,
    env.loadgen.path,
    loadgenArgs(server.port, { conns: 10, size: 64, inflight: 4 }, quick ? 0.3 : 1),
  );
  await runJson(file, args, 60_000);
}

/** The order loadgen runs go in: cell by cell, and within a cell repeat by repeat over every server. */
export function echoSchedule<T extends EchoCell & { server: string }>(
  cases: T[],
  repeat: number,
): Array<{ c: T; run: number }> {
  const cells = new Map<string, T[]>();
  for (const c of cases) {
    const key = `${c.conns}/${c.size}/${c.inflight}`;
    const list = cells.get(key);
    if (list) list.push(c);
    else cells.set(key, [c]);
  }
  const order: Array<{ c: T; run: number }> = [];
  for (const list of cells.values()) {
    for (let run = 0; run < repeat; run++) for (const c of list) order.push({ c, run });
  }
  return order;
}

/**
 * Every server is started (and warmed) once, up front; idle ones sleep in their wait and cost the
 * measured one nothing. Then each cell's repeats go round the servers in turn (echoSchedule), so
 * the machine's drift over a long run lands on every server alike instead of on whichever ran
 * during a noisy minute; each (server, cell) keeps the run with the median msgs/s. A server that
 * dies is restarted for its next run; a cell whose run failed is not run again.
 */
export async function runEcho(
  env: BenchEnv,
  specs: ServerSpec[],
  cases: EchoCase[],
  opts: EchoOptions,
  progress: Progress,
  live: Set<RunningServer>,
): Promise<EchoResult[]> {
  const final = new Map<EchoCase, EchoResult>();
  const runs = new Map<EchoCase, EchoResult[]>(cases.map((c) => [c, []]));
  const servers = new Map<string, RunningServer>();
  const byId = new Map(specs.map((s) => [s.id, s]));

  const ensureServer = async (spec: ServerSpec, c: EchoCase): Promise<RunningServer | string> => {
    if ('missing' in spec.command) return spec.command.missing;
    const running = servers.get(spec.id);
    if (running?.alive) return running;
    if (running !== undefined) {
      live.delete(running);
      progress.note(`echo: ${spec.id} exited; restarting it for ${cellLabel(c)}`);
    }
    try {
      const server = await RunningServer.start(spec, env);
      servers.set(spec.id, server);
      live.add(server);
      await warmUp(env, server, opts.quick);
      return server;
    } catch (err) {
      servers.delete(spec.id);
      return `error: server did not start: ${(err as Error).message}`;
    }
  };

  for (const spec of specs) {
    if ('missing' in spec.command) progress.note(`echo: skipping ${spec.id}: ${spec.command.missing}`);
  }
  try {
    for (const { c, run } of echoSchedule(cases, opts.repeat)) {
      if (final.has(c)) continue;
      const spec = byId.get(c.server)!;
      progress.step(`echo ${spec.id} ${cellLabel(c)} (run ${run + 1}/${opts.repeat})`);
      const server = await ensureServer(spec, c);
      if (typeof server === 'string') {
        final.set(c, empty(c, 'missing' in spec.command ? 'missing' : 'error', server));
        continue;
      }
      const r = await measureOnce(env, server, c, opts.durationS);
      if (r.status !== 'ok') {
        final.set(c, run === 0 ? r : { ...r, note: `${r.note} (in run ${run + 1} of ${opts.repeat})` });
        continue;
      }
      runs.get(c)!.push(r);
    }
  } finally {
    for (const server of servers.values()) {
      await server.stop();
      live.delete(server);
    }
  }
  return cases.map((c) => final.get(c) ?? medianRun(runs.get(c)!));
}
