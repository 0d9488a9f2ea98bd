// bench/pipes/suite.ts: the plan of the pipes sweep (every shape × N × backend × implementation,
// the references only where they implement the backend, --only as a filter on case ids) and how
// a program's answer becomes a status: ok, n/a (FD_SETSIZE, fd limit, A > N), missing, error;
// with --baseline, the @base twins of the iomux implementations and the worker they run.
// The C column is played by small sh scripts that answer as bench/reference/pipes.c does, and
// once by pipes.c itself.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test, vi } from 'vitest';
import {
  PIPES_IMPLS,
  SHAPES,
  SIZES,
  planPipes,
  runPipes,
  withBaselines,
  type PipesCase,
  type PipesOptions,
  type PipesResult,
} from '../../bench/pipes/suite.js';
import { discoverEnv, type BenchEnv } from '../../bench/report/env.js';
import type { Progress } from '../../bench/report/progress.js';
import { availableBackends } from '../../src/selectors.js';
import { fakePipesRef } from './fixtures.js';

const REFERENCE_BACKENDS = ['epoll', 'poll', 'select'];
const opts: PipesOptions = { rounds: 6, warmup: 2, sessions: 2, filter: (): boolean => true };
const quiet = { step() {}, note() {}, clear() {} } as unknown as Progress;
const realEnv = discoverEnv();

describe('planPipes', () => {
  test('plans every shape × N × backend, with the C and Python columns only for backends they implement', () => {
    const isIomux = (impl: string): boolean => impl === 'loop' || impl === 'transport' || impl === 'raw';
    const perBackend = availableBackends().map(
      (b) => PIPES_IMPLS.filter((i) => isIomux(i) || REFERENCE_BACKENDS.includes(b)).length,
    );
    const cases = planPipes(opts);
    expect(cases).toHaveLength(SHAPES.length * SIZES.length * perBackend.reduce((x, y) => x + y, 0));
    for (const c of cases.filter((k) => !isIomux(k.impl))) expect(REFERENCE_BACKENDS).toContain(c.backend);
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length);
  });

  test('plans only the iomux columns for a backend the references lack (kqueue)', async () => {
    vi.resetModules();
    vi.doMock('../../src/selectors.js', async (original) => ({
      ...(await original<object>()),
      availableBackends: () => ['kqueue', 'poll'],
    }));
    try {
      const { planPipes: plan } = await import('../../bench/pipes/suite.js');
      const n10 = plan({ ...opts, filter: (id) => id.startsWith('pipes/a1-w100/n10/') });
      expect(n10.filter((c) => c.backend === 'kqueue').map((c) => c.impl)).toEqual(['loop', 'transport', 'raw']);
      expect(n10.filter((c) => c.backend === 'poll').map((c) => c.impl)).toEqual([...PIPES_IMPLS]);
    } finally {
      vi.doUnmock('../../src/selectors.js');
      vi.resetModules();
    }
  });

  test('orders cases shape, then N, then backend, then implementation, with ids that say so', () => {
    const [b] = availableBackends();
    const first = planPipes(opts).slice(0, 3);
    expect(first).toEqual([
      { id: `pipes/a1-w100/n10/${b}/loop`, impl: 'loop', backend: b, n: 10, a: 1, w: 100 },
      { id: `pipes/a1-w100/n10/${b}/transport`, impl: 'transport', backend: b, n: 10, a: 1, w: 100 },
      { id: `pipes/a1-w100/n10/${b}/raw`, impl: 'raw', backend: b, n: 10, a: 1, w: 100 },
    ]);
  });

  test('with a baseline, the Loop and raw Selector are each followed by their @base twin (transports are newer than baselines), on every backend', () => {
    const baseline = { root: join(tmpdir(), 'before'), commit: null };
    const n10 = (b: string): PipesCase[] =>
      planPipes({ ...opts, baseline, filter: (id) => id.startsWith(`pipes/a1-w100/n10/${b}/`) });
    const [b] = availableBackends();
    expect(withBaselines(PIPES_IMPLS)).toEqual([
      'loop',
      'loop@base',
      'transport',
      'raw',
      'raw@base',
      'c',
      'c-thread',
      'python',
    ]);
    for (const backend of availableBackends()) {
      const impls = REFERENCE_BACKENDS.includes(backend)
        ? withBaselines(PIPES_IMPLS)
        : withBaselines(['loop', 'transport', 'raw']);
      expect(n10(backend).map((c) => c.impl)).toEqual(impls);
    }
    expect(n10(b)[1]).toEqual({
      id: `pipes/a1-w100/n10/${b}/loop@base`,
      impl: 'loop@base',
      backend: b,
      n: 10,
      a: 1,
      w: 100,
    });
  });

  test('keeps only the cases whose id the filter accepts, asking it once per case', () => {
    const asked: string[] = [];
    const cases = planPipes({ ...opts, filter: (id) => (asked.push(id), id.includes('/n1000/poll/')) });
    expect(cases.map((c) => c.id)).toEqual(
      SHAPES.flatMap(({ a, w }) => PIPES_IMPLS.map((impl) => `pipes/a${a}-w${w}/n1000/poll/${impl}`)),
    );
    expect(new Set(asked).size).toBe(asked.length);
    expect(asked).toHaveLength(planPipes(opts).length);
    expect(planPipes({ ...opts, filter: () => false })).toEqual([]);
  });
});

describe('runPipes statuses', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iomux-bench-pipes-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const fakeRef = (name: string, body: string): string => fakePipesRef(dir, name, body);

  const envWith = (pipesRef: string | null): BenchEnv => ({
    ...realEnv,
    pipesRef:
      pipesRef === null ? { path: null, missing: 'pipes_ref not found (build it)' } : { path: pipesRef, missing: '' },
  });
  const cCase = (n = 10, a = 1): PipesCase => ({
    id: `pipes/a${a}-w100/n${n}/epoll/c`,
    impl: 'c',
    backend: 'epoll',
    n,
    a,
    w: 100,
  });
  const runOne = async (env: BenchEnv, c = cCase()): Promise<PipesResult> => {
    const [r] = await runPipes(env, [c], opts, quiet);
    return r;
  };

  test('ok: the warm-up rounds are dropped and the rest summarised', async () => {
    // Each process's first two rounds (the warm-up) are slow; the rest take 5 µs.
    const ref = fakeRef('ok', `printf '{"us_per_round": [%s], "failures": 0}\\n' "$(us $rounds 2 1000 5)"`);
    const r = await runOne(envWith(ref));
    expect([r.status, r.note]).toEqual(['ok', '']);
    expect(r.usPerRound).toEqual(Array(opts.rounds).fill(5));
    expect(r.summary).toEqual({ n: opts.rounds, median: 5, p10: 5, p90: 5, min: 5, max: 5 });
  });

  test.each([
    ['fd_setsize', 3, 'fd_setsize', 'n/a (FD_SETSIZE)'],
    ['fd_limit', 4, 'fd_limit', 'n/a (fd limit)'],
    ['unknown backend', 2, 'error', 'error: unknown backend'],
  ])('{"error": "%s"} (exit %s) is %s, noted %j', async (error, exit, status, note) => {
    const r = await runOne(envWith(fakeRef(`err-${exit}`, `echo '${JSON.stringify({ error })}'; exit ${exit}`)));
    expect([r.status, r.note, r.summary]).toEqual([status, note, null]);
  });

  test('A greater than N is n/a without running anything', async () => {
    const r = await runOne(envWith('/nonexistent/pipes_ref'), cCase(10, 100));
    expect([r.status, r.note, r.summary]).toEqual(['a_gt_n', 'n/a (A=100 > N=10)', null]);
  });

  test('a reference that is not built is missing, with the reason env gave', async () => {
    const r = await runOne(envWith(null));
    expect([r.status, r.note]).toEqual(['missing', 'pipes_ref not found (build it)']);
  });

  test("a baseline case runs the baseline's worker, asking it for the plain implementation", async () => {
    const root = join(dir, 'before');
    mkdirSync(join(root, 'dist', 'bench', 'pipes'), { recursive: true });
    // Answers as the worker does, every round 42 µs, but only when asked for the raw Selector.
    writeFileSync(
      join(root, 'dist', 'bench', 'pipes', 'worker.js'),
      `const a = process.argv; const rounds = Number(a[a.indexOf('--rounds') + 1]);
       const answer = a[a.indexOf('--api') + 1] === 'raw' ? { us_per_round: Array(rounds).fill(42), failures: 0 } : { error: a.join(' ') };
       console.log(JSON.stringify(answer));`,
    );
    const c: PipesCase = {
      id: 'pipes/a1-w100/n10/epoll/raw@base',
      impl: 'raw@base',
      backend: 'epoll',
      n: 10,
      a: 1,
      w: 100,
    };
    const [r] = await runPipes(realEnv, [c], { ...opts, baseline: { root, commit: null } }, quiet);
    expect([r.status, r.note, r.summary?.median]).toEqual(['ok', '', 42]);
  });

  test('a baseline checkout without a built worker has its pipes cases missing', async () => {
    const root = join(dir, 'unbuilt');
    const c: PipesCase = {
      id: 'pipes/a1-w100/n10/epoll/loop@base',
      impl: 'loop@base',
      backend: 'epoll',
      n: 10,
      a: 1,
      w: 100,
    };
    const [r] = await runPipes(realEnv, [c], { ...opts, baseline: { root, commit: null } }, quiet);
    expect([r.status, r.note]).toEqual(['missing', 'the baseline has no dist/bench/pipes/worker.js']);
  });

  test('fewer rounds than asked for is an error saying how many', async () => {
    const r = await runOne(
      envWith(fakeRef('short', `printf '{"us_per_round": [%s], "failures": 0}\\n' "$(us $((rounds - 1)) 0 1 1)"`)),
    );
    expect(r.status).toBe('error');
    const [, got, want] = /^error: printed (\d+) rounds, expected (\d+)$/.exec(r.note) ?? [];
    expect(Number(got)).toBe(Number(want) - 1);
  });

  test('failed syscalls make an error even with every round printed', async () => {
    const r = await runOne(
      envWith(fakeRef('failures', `printf '{"us_per_round": [%s], "failures": 2}\\n' "$(us $rounds 0 1 1)"`)),
    );
    expect([r.status, r.note]).toEqual(['error', 'error: 2 failed syscalls (exit 0)']);
  });

  test('a crash with no JSON is an error quoting stderr', async () => {
    const r = await runOne(envWith(fakeRef('crash', 'echo "socketpair: cannot allocate" >&2; exit 1')));
    expect(r.status).toBe('error');
    expect(r.note).toMatch(/^error: no JSON on stdout \(exit 1\): socketpair: cannot allocate/);
  });

  test.skipIf(realEnv.pipesRef.path === null || !availableBackends().includes('select'))(
    'the real C reference: select past FD_SETSIZE is n/a, epoll at N=10 measures',
    async () => {
      const c = (backend: string, n: number): PipesCase => ({
        id: `pipes/a1-w100/n${n}/${backend}/c`,
        impl: 'c',
        backend,
        n,
        a: 1,
        w: 100,
      });
      const [sel, ep] = await runPipes(realEnv, [c('select', 1000), c('epoll', 10)], opts, quiet);
      expect([sel.status, sel.note]).toEqual(['fd_setsize', 'n/a (FD_SETSIZE)']);
      expect(ep.status).toBe('ok');
      expect(ep.summary?.n).toBe(opts.rounds);
      expect(ep.summary!.median).toBeGreaterThan(0);
    },
  );
});
