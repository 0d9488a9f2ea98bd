// bench/pipes/suite.ts, sessions: each case runs as several short processes per implementation,
// interleaved with the other implementations' of the same shape, and their rounds are pooled.
// The C and "C + idle thread" columns are played by one script that logs each run it is asked for.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  groupByShape,
  planPipes,
  pooledResult,
  roundsPerSession,
  runPipes,
  type PipesCase,
} from '../../bench/pipes/suite.js';
import { discoverEnv, type BenchEnv } from '../../bench/report/env.js';
import type { Progress } from '../../bench/report/progress.js';
import { fakePipesRef } from './fixtures.js';

const opts = { rounds: 10, warmup: 1, sessions: 3, filter: (): boolean => true };

describe('roundsPerSession', () => {
  test.each([
    [30, 5, 6],
    [15, 3, 5],
    [10, 3, 4],
    [1, 5, 1],
    [7, 1, 7],
  ])('%s rounds over %s sessions is %s each (never fewer in all)', (rounds, sessions, each) => {
    expect(roundsPerSession({ rounds, sessions })).toBe(each);
    expect(each * sessions).toBeGreaterThanOrEqual(rounds);
  });
});

describe('groupByShape', () => {
  test('groups the cases that differ only in implementation, in plan order', () => {
    const cases = planPipes({ ...opts, filter: (id) => id.includes('/n10/') || id.includes('/n100/') });
    const groups = groupByShape(cases);
    expect(groups.flat()).toEqual(cases);
    for (const g of groups) {
      const shape = ({ a, w, n, backend }: PipesCase): string => `${a}/${w}/${n}/${backend}`;
      expect(new Set(g.map(shape)).size).toBe(1);
      expect(new Set(g.map((c) => c.impl)).size).toBe(g.length);
    }
    expect(new Set(groups.map((g) => `${g[0].a}/${g[0].w}/${g[0].n}/${g[0].backend}`)).size).toBe(groups.length);
  });
});

describe('pooledResult', () => {
  test("pools every session's rounds in order, with each session's median kept", () => {
    const c: PipesCase = { id: 'pipes/a1-w100/n10/epoll/c', impl: 'c', backend: 'epoll', n: 10, a: 1, w: 100 };
    const r = pooledResult(c, opts, [[1, 2, 3], [10, 20], [5]]);
    expect(r).toMatchObject({
      ...c,
      status: 'ok',
      note: '',
      warmupRounds: 1,
      usPerRound: [1, 2, 3, 10, 20, 5],
      sessionMedians: [2, 15, 5],
    });
    expect(r.summary).toMatchObject({ n: 6, median: 4, min: 1, max: 20 });
  });
});

describe('runPipes with sessions', () => {
  const dir = mkdtempSync(join(tmpdir(), 'iomux-bench-sessions-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const log = join(dir, 'runs.log');
  // Logs "<impl> <pairs> <rounds>", then answers: fd_setsize for 5000 pairs, else $rounds rounds of 7 µs.
  const ref = fakePipesRef(
    dir,
    'pipes_ref',
    `echo "$impl $pairs $rounds" >> '${log}'
if [ "$pairs" = 5000 ]; then echo '{"error": "fd_setsize"}'; exit 3; fi
printf '{"us_per_round": [%s], "failures": 0}\\n' "$(us $rounds 0 7 7)"`,
  );
  const env: BenchEnv = { ...discoverEnv(), pipesRef: { path: ref, missing: '' } };
  const steps: string[] = [];
  const progress = { step: (l: string) => steps.push(l), note() {}, clear() {} } as unknown as Progress;
  const kase = (impl: 'c' | 'c-thread', n: number): PipesCase => ({
    id: `pipes/a1-w100/n${n}/poll/${impl}`,
    impl,
    backend: 'poll',
    n,
    a: 1,
    w: 100,
  });

  test("interleaves the implementations session by session, and pools each one's rounds", async () => {
    writeFileSync(log, '');
    steps.length = 0;
    const cases = [kase('c', 10), kase('c-thread', 10)];
    const results = await runPipes(env, cases, opts, progress);
    const each = roundsPerSession(opts);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toEqual(
      Array(opts.sessions)
        .fill([`c 10 ${opts.warmup + each}`, `c-thread 10 ${opts.warmup + each}`])
        .flat(),
    );
    for (const r of results) {
      expect(r.status).toBe('ok');
      expect(r.sessionMedians).toEqual(Array(opts.sessions).fill(7));
      expect(r.usPerRound).toHaveLength(opts.sessions * each);
    }
    expect(results.map((r) => r.impl)).toEqual(['c', 'c-thread']);
    expect(steps[0]).toMatch(/\(session 1\/3\)$/);
    expect(steps).toHaveLength(6);
  });

  test('a case that is n/a runs once, not once per session, and its results keep plan order', async () => {
    writeFileSync(log, '');
    const cases = [kase('c', 5000), kase('c', 10)];
    const [na, ok] = await runPipes(env, cases, opts, progress);
    expect([na.status, na.note, na.sessionMedians]).toEqual(['fd_setsize', 'n/a (FD_SETSIZE)', []]);
    expect(ok.status).toBe('ok');
    const runs = readFileSync(log, 'utf8').trim().split('\n');
    expect(runs.filter((l) => l.startsWith('c 5000 '))).toHaveLength(1);
    expect(runs.filter((l) => l.startsWith('c 10 '))).toHaveLength(opts.sessions);
  });
});
