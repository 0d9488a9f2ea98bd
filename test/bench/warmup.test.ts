// The pipes bench's timed warm-up (--warmup-ms): every program runs unrecorded rounds for that
// long before its recorded ones, so iomux's JavaScript is measured optimised, as the C and Python
// references (flat from round one) are. Checked on the shared helper and on each real program.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { WarmUp } from '../../bench/pipes/pairs.js';
import { discoverEnv } from '../../bench/report/env.js';

const env = discoverEnv();
const ARGS = ['--backend', 'poll', '--pairs', '10', '--active', '1', '--writes', '20', '--rounds', '3'];

describe('WarmUp', () => {
  test('counts rounds as warm-up until the time is up, then never again', () => {
    const warm = new WarmUp(50);
    const start = performance.now();
    expect(warm.counts(start)).toBe(true);
    expect(warm.counts(start + 10)).toBe(true);
    expect(warm.counts(start + 60)).toBe(true); // the round that crossed the deadline is still warm-up
    expect(warm.counts(start + 70)).toBe(false);
    expect(warm.counts(start + 10)).toBe(false);
    expect(warm.rounds).toBe(3);
  });

  test('0 ms means no warm-up at all', () => {
    const warm = new WarmUp(0);
    expect(warm.counts(performance.now())).toBe(false);
    expect(warm.rounds).toBe(0);
  });
});

type Program = [name: string, cmd: string | null, args: string[]];
const programs: Program[] = [
  ['pipes_ref (C)', env.pipesRef.path, []],
  ['pipes.py (Python)', env.python.path, [join(env.root, 'bench', 'reference', 'pipes.py')]],
  ['worker.js (iomux raw)', process.execPath, [join(env.root, 'dist', 'bench', 'pipes', 'worker.js'), '--api', 'raw']],
  [
    'worker.js (iomux Loop)',
    process.execPath,
    [join(env.root, 'dist', 'bench', 'pipes', 'worker.js'), '--api', 'loop'],
  ],
  [
    'worker.js (iomux transports)',
    process.execPath,
    [join(env.root, 'dist', 'bench', 'pipes', 'worker.js'), '--api', 'transport'],
  ],
];

describe.each(programs)('%s', (_name, cmd, pre) => {
  const run = (extra: string[]): { warmup_rounds: number; us_per_round: number[]; failures: number } =>
    JSON.parse(
      execFileSync(cmd!, [...pre, ...ARGS, ...extra], { encoding: 'utf8', timeout: 20_000 })
        .trim()
        .split('\n')
        .pop()!,
    ) as ReturnType<typeof run>;

  test.skipIf(cmd === null)('--warmup-ms runs unrecorded rounds first and still records exactly --rounds', () => {
    const warm = run(['--warmup-ms', '60']);
    expect(warm.warmup_rounds).toBeGreaterThan(1);
    expect(warm.us_per_round).toHaveLength(3);
    expect(warm.failures).toBe(0);
    const cold = run([]);
    expect(cold.warmup_rounds).toBe(0);
    expect(cold.us_per_round).toHaveLength(3);
  });
});
