// The pipes sweep: every (A, W) × N × backend, each run by six implementations in turn: iomux
// through the Loop's reader callbacks, through transports on the Loop's batched path, and through
// the raw Selector, the C reference, the C reference with one idle thread, and Python's
// selectors. Each is a fresh process given the same arguments and printing the same JSON
// (bench/reference/pipes.c defines it). The six run back to back, and that is
// repeated in several short sessions (one process each) whose rounds are pooled: on this kind of
// shared VM one process's rounds agree within ~5% while two processes of the same program differ
// by up to 30%, so one process per implementation would make the ratios a coin toss, and
// interleaving spreads drift over all of them. Every process first runs --warmup-ms of unrecorded
// rounds, so iomux's JavaScript is measured optimised. With --baseline, another checkout's worker
// runs the Loop and raw Selector cases too (loop@base, raw@base), interleaved with the rest.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { availableBackends } from '../../src/selectors.js';
import { BASELINE_SUFFIX, BUILT_WORKER, type Baseline } from '../report/baseline.js';
import type { BenchEnv } from '../report/env.js';
import { lastLine, pinned, runJson } from '../report/exec.js';
import type { Progress } from '../report/progress.js';
import { summarize, type Summary } from '../report/stats.js';

type IomuxImpl = 'loop' | 'transport' | 'raw';
/** The iomux implementations a --baseline checkout runs too ('transport' is newer than those). */
type BaselinedImpl = 'loop' | 'raw';
/** An iomux implementation run by the --baseline checkout's worker. */
type BaselineImpl = `${BaselinedImpl}${typeof BASELINE_SUFFIX}`;
/** 'c-thread' is the C reference with one idle thread (pipes.c --idle-thread): see that file. */
export type PipesImpl = IomuxImpl | BaselineImpl | 'c' | 'c-thread' | 'python';
/** What every run has; --baseline adds the BaselineImpls (withBaselines). */
export const PIPES_IMPLS: readonly PipesImpl[] = ['loop', 'transport', 'raw', 'c', 'c-thread', 'python'];
export const IMPL_LABEL: Record<PipesImpl, string> = {
  loop: 'iomux Loop',
  transport: 'iomux transports',
  raw: 'iomux raw Selector',
  'loop@base': 'iomux Loop@base',
  'raw@base': 'iomux raw Selector@base',
  c: 'C reference',
  'c-thread': 'C + idle thread',
  python: 'Python selectors',
};
const REFERENCE_IMPLS = new Set<PipesImpl>(['c', 'c-thread', 'python']);

function isBaselined(impl: PipesImpl): impl is BaselinedImpl {
  return impl === 'loop' || impl === 'raw';
}

/** The implementation a baseline one is the older build of: what its worker is asked to run. */
function baselineOf(impl: BaselineImpl): BaselinedImpl {
  return impl === 'loop@base' ? 'loop' : 'raw';
}

/** `impls` with each baselined implementation followed by its baseline, in plan and column order. */
export function withBaselines(impls: readonly PipesImpl[]): PipesImpl[] {
  return impls.flatMap((impl) => (isBaselined(impl) ? [impl, `${impl}${BASELINE_SUFFIX}` as const] : [impl]));
}

/** The libevent bench.c shapes: one active pair and 100 writes, 100 active and 1000 writes. */
export const SHAPES: ReadonlyArray<{ a: number; w: number }> = [
  { a: 1, w: 100 },
  { a: 100, w: 1000 },
];
export const SIZES: readonly number[] = [10, 100, 1000, 10000, 50000];
/** Backends the C and Python references implement. */
const REFERENCE_BACKENDS = new Set(['epoll', 'poll', 'select']);

export interface PipesCase {
  id: string;
  impl: PipesImpl;
  backend: string;
  n: number;
  a: number;
  w: number;
}

export type PipesStatus = 'ok' | 'fd_setsize' | 'fd_limit' | 'a_gt_n' | 'missing' | 'error';

export interface PipesResult extends PipesCase {
  status: PipesStatus;
  /** The time-based warm-up each process ran before its rounds (0: none). */
  warmupMs?: number;
  /** Why it is not 'ok', in words. */
  note: string;
  warmupRounds: number;
  /** µs per measured round (warm-up rounds dropped), as the programs printed them, pooled. */
  usPerRound: number[];
  /** Median µs per round of each session (process), in the order they ran. */
  sessionMedians: number[];
  summary: Summary | null;
}

export interface PipesOptions {
  /** Measured rounds per case, pooled over all sessions. */
  rounds: number;
  /** Warm-up rounds each session drops. */
  warmup: number;
  /** Before those, each process runs unrecorded rounds for this long (--warmup-ms of the programs). */
  warmupMs?: number;
  /** Processes per implementation and case, interleaved with the other implementations'. */
  sessions: number;
  filter: (id: string) => boolean;
  /** --baseline: the checkout whose worker also runs each iomux case, as `loop@base` and `raw@base`. */
  baseline?: Baseline;
}

export function planPipes(opts: PipesOptions): PipesCase[] {
  const impls = opts.baseline === undefined ? PIPES_IMPLS : withBaselines(PIPES_IMPLS);
  const cases: PipesCase[] = [];
  for (const { a, w } of SHAPES) {
    for (const n of SIZES) {
      for (const backend of availableBackends()) {
        for (const impl of impls) {
          if (REFERENCE_IMPLS.has(impl) && !REFERENCE_BACKENDS.has(backend)) continue;
          const id = `pipes/a${a}-w${w}/n${n}/${backend}/${impl}`;
          if (opts.filter(id)) cases.push({ id, impl, backend, n, a, w });
        }
      }
    }
  }
  return cases;
}

/**
 * The CPU every pipes process runs on (when taskset exists), the echo server's. Unpinned, the
 * same program's processes differed by up to 30% here (the scheduler moves them, and V8's helper
 * threads get the second core that the C and Python references never use); pinned, alternating
 * runs of one program mostly agree within about 5%. Everything else on the machine gets the other core.
 */
export const PIPES_CPU = 1;

const UNAVAILABLE: Record<string, [PipesStatus, string]> = {
  fd_setsize: ['fd_setsize', 'n/a (FD_SETSIZE)'],
  fd_limit: ['fd_limit', 'n/a (fd limit)'],
};

/** The iomux worker of the checkout at `root`, running `api`, or why it cannot. */
function worker(root: string, api: IomuxImpl, args: string[], missing: string): [string, string[]] | string {
  const file = join(root, BUILT_WORKER);
  return existsSync(file) ? [process.execPath, [file, '--api', api, ...args]] : missing;
}

function command(
  env: BenchEnv,
  c: PipesCase,
  rounds: number,
  warmupMs: number,
  baseline: Baseline | undefined,
): [string, string[]] | string {
  const args = [
    '--backend',
    c.backend,
    '--pairs',
    String(c.n),
    '--active',
    String(c.a),
    '--writes',
    String(c.w),
    '--rounds',
    String(rounds),
  ];
  if (warmupMs > 0) args.push('--warmup-ms', String(warmupMs));
  switch (c.impl) {
    case 'loop':
    case 'transport':
    case 'raw':
      return worker(env.root, c.impl, args, `${BUILT_WORKER} not built yet (npm run build:ts)`);
    case 'loop@base':
    case 'raw@base':
      return baseline === undefined
        ? 'no --baseline given'
        : worker(baseline.root, baselineOf(c.impl), args, `the baseline has no ${BUILT_WORKER}`);
    case 'c':
      return env.pipesRef.path ? [env.pipesRef.path, args] : env.pipesRef.missing;
    case 'c-thread':
      return env.pipesRef.path ? [env.pipesRef.path, [...args, '--idle-thread']] : env.pipesRef.missing;
    case 'python':
      return env.python.path
        ? [env.python.path, [join(env.root, 'bench', 'reference', 'pipes.py'), ...args]]
        : env.python.missing;
  }
}

/** Measured rounds each of `opts.sessions` processes runs so that together they make at least `opts.rounds`. */
export function roundsPerSession(opts: Pick<PipesOptions, 'rounds' | 'sessions'>): number {
  return Math.ceil(opts.rounds / opts.sessions);
}

/**
 * One process of one case: `opts.warmup` + `measured` rounds. Returns the measured rounds, or a
 * finished result when the case cannot run (n/a, missing program, error).
 */
export async function runPipesSession(
  env: BenchEnv,
  c: PipesCase,
  opts: PipesOptions,
  measured: number,
): Promise<number[] | PipesResult> {
  const base = {
    ...c,
    warmupRounds: opts.warmup,
    usPerRound: [] as number[],
    sessionMedians: [] as number[],
    summary: null,
  };
  if (c.a > c.n) return { ...base, status: 'a_gt_n', note: `n/a (A=${c.a} > N=${c.n})` };
  const total = opts.warmup + measured;
  const cmd = command(env, c, total, opts.warmupMs ?? 0, opts.baseline);
  if (typeof cmd === 'string') return { ...base, status: 'missing', note: cmd };
  const [file, args] = pinned(env.taskset.path, PIPES_CPU, ...cmd);
  const run = await runJson(file, args, 300_000);
  const json = run.json;
  if (json !== null && typeof json.error === 'string') {
    const [status, note] = UNAVAILABLE[json.error] ?? ['error', `error: ${json.error}`];
    return { ...base, status, note };
  }
  const rounds = json?.us_per_round;
  if (run.problem !== '' || !Array.isArray(rounds) || rounds.length !== total) {
    const why = run.problem || `printed ${Array.isArray(rounds) ? rounds.length : 'no'} rounds, expected ${total}`;
    return { ...base, status: 'error', note: `error: ${why}${run.stderr ? ` (${lastLine(run.stderr)})` : ''}` };
  }
  if (json?.failures !== 0 || run.code !== 0) {
    return { ...base, status: 'error', note: `error: ${String(json?.failures)} failed syscalls (exit ${run.code})` };
  }
  return (rounds as number[]).slice(opts.warmup);
}

/** Pools the sessions of one case into its result. */
export function pooledResult(c: PipesCase, opts: PipesOptions, sessions: number[][]): PipesResult {
  const usPerRound = sessions.flat();
  return {
    ...c,
    status: 'ok',
    note: '',
    warmupRounds: opts.warmup,
    warmupMs: opts.warmupMs ?? 0,
    usPerRound,
    sessionMedians: sessions.map((s) => summarize(s).median),
    summary: summarize(usPerRound),
  };
}

/** Cases that differ only in implementation, in plan order: the ones interleaved. */
export function groupByShape(cases: PipesCase[]): PipesCase[][] {
  const groups = new Map<string, PipesCase[]>();
  for (const c of cases) {
    const key = `${c.a}/${c.w}/${c.n}/${c.backend}`;
    const g = groups.get(key);
    if (g) g.push(c);
    else groups.set(key, [c]);
  }
  return [...groups.values()];
}

export async function runPipes(
  env: BenchEnv,
  cases: PipesCase[],
  opts: PipesOptions,
  progress: Progress,
): Promise<PipesResult[]> {
  const measured = roundsPerSession(opts);
  const done = new Map<PipesCase, PipesResult>();
  for (const group of groupByShape(cases)) {
    const sessions = new Map<PipesCase, number[][]>(group.map((c) => [c, []]));
    for (let s = 0; s < opts.sessions; s++) {
      for (const c of group) {
        if (done.has(c)) continue;
        progress.step(
          `pipes ${IMPL_LABEL[c.impl]} ${c.backend} N=${c.n} A=${c.a} W=${c.w} (session ${s + 1}/${opts.sessions})`,
        );
        const r = await runPipesSession(env, c, opts, measured);
        if (Array.isArray(r)) sessions.get(c)!.push(r);
        else done.set(c, r); // n/a or failed: the same in every session, so not retried
      }
    }
    for (const c of group) if (!done.has(c)) done.set(c, pooledResult(c, opts, sessions.get(c)!));
  }
  return cases.map((c) => done.get(c)!);
}
