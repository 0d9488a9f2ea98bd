// The pipes sweep: every (A, W) × N × backend, each run by four implementations in turn: iomux
// through the Loop, iomux through the raw Selector, the C reference and Python's selectors. Each
// is a fresh process given the same arguments and printing the same JSON (bench/reference/pipes.c
// defines it), and the four run back to back so drifting machine noise hits them alike.
import { join } from 'node:path';
import { availableBackends } from '../../src/selectors.js';
import type { BenchEnv } from '../report/env.js';
import { lastLine, runJson } from '../report/exec.js';
import type { Progress } from '../report/progress.js';
import { summarize, type Summary } from '../report/stats.js';

export type PipesImpl = 'loop' | 'raw' | 'c' | 'python';
export const PIPES_IMPLS: readonly PipesImpl[] = ['loop', 'raw', 'c', 'python'];
export const IMPL_LABEL: Record<PipesImpl, string> = {
  loop: 'iomux Loop', raw: 'iomux raw Selector', c: 'C reference', python: 'Python selectors',
};

/** The libevent bench.c shapes: one active pair and 100 writes, 100 active and 1000 writes. */
export const SHAPES: ReadonlyArray<{ a: number; w: number }> = [{ a: 1, w: 100 }, { a: 100, w: 1000 }];
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
  /** Why it is not 'ok', in words. */
  note: string;
  warmupRounds: number;
  /** µs per measured round (warm-up rounds dropped), as the program printed them. */
  usPerRound: number[];
  summary: Summary | null;
}

export interface PipesOptions {
  rounds: number;
  warmup: number;
  filter: (id: string) => boolean;
}

export function planPipes(opts: PipesOptions): PipesCase[] {
  const cases: PipesCase[] = [];
  for (const { a, w } of SHAPES) {
    for (const n of SIZES) {
      for (const backend of availableBackends()) {
        for (const impl of PIPES_IMPLS) {
          if ((impl === 'c' || impl === 'python') && !REFERENCE_BACKENDS.has(backend)) continue;
          const id = `pipes/a${a}-w${w}/n${n}/${backend}/${impl}`;
          if (opts.filter(id)) cases.push({ id, impl, backend, n, a, w });
        }
      }
    }
  }
  return cases;
}

const UNAVAILABLE: Record<string, [PipesStatus, string]> = {
  fd_setsize: ['fd_setsize', 'n/a (FD_SETSIZE)'],
  fd_limit: ['fd_limit', 'n/a (fd limit)'],
};

function command(env: BenchEnv, c: PipesCase, rounds: number): [string, string[]] | string {
  const args = ['--backend', c.backend, '--pairs', String(c.n), '--active', String(c.a),
    '--writes', String(c.w), '--rounds', String(rounds)];
  switch (c.impl) {
    case 'loop':
    case 'raw':
      return [process.execPath, [join(env.root, 'dist', 'bench', 'pipes', 'worker.js'), '--api', c.impl, ...args]];
    case 'c':
      return env.pipesRef.path ? [env.pipesRef.path, args] : env.pipesRef.missing;
    case 'python':
      return env.python.path ? [env.python.path, [join(env.root, 'bench', 'reference', 'pipes.py'), ...args]] : env.python.missing;
  }
}

export async function runPipesCase(env: BenchEnv, c: PipesCase, opts: PipesOptions): Promise<PipesResult> {
  const base = { ...c, warmupRounds: opts.warmup, usPerRound: [] as number[], summary: null };
  if (c.a > c.n) return { ...base, status: 'a_gt_n', note: `n/a (A=${c.a} > N=${c.n})` };
  const total = opts.warmup + opts.rounds;
  const cmd = command(env, c, total);
  if (typeof cmd === 'string') return { ...base, status: 'missing', note: cmd };
  const [file, args] = cmd;
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
  const measured = (rounds as number[]).slice(opts.warmup);
  return { ...base, status: 'ok', note: '', usPerRound: measured, summary: summarize(measured) };
}

export async function runPipes(env: BenchEnv, cases: PipesCase[], opts: PipesOptions, progress: Progress): Promise<PipesResult[]> {
  const results: PipesResult[] = [];
  for (const c of cases) {
    progress.step(`pipes ${IMPL_LABEL[c.impl]} ${c.backend} N=${c.n} A=${c.a} W=${c.w}`);
    results.push(await runPipesCase(env, c, opts));
  }
  return results;
}
