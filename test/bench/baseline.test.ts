// bench/report/baseline.ts: what --baseline accepts (a directory holding a built CLI), the commit
// it records (only a checkout's own), the report's path relative to this checkout, and --only
// keeping a baseline case wherever it keeps its counterpart.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import {
  BUILT_CLI,
  baselineRecord,
  findBaseline,
  withBaselineTwins,
  type Baseline,
} from '../../bench/report/baseline.js';

const dir = mkdtempSync(join(tmpdir(), 'iomux-baseline-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A checkout with a (dummy) built CLI, made a git repository with one commit when `git` is set. */
function checkout(name: string, git: boolean): string {
  const root = join(dir, name);
  mkdirSync(join(root, 'dist', 'src'), { recursive: true });
  writeFileSync(join(root, BUILT_CLI), '');
  if (git) {
    const run = (...args: string[]): string =>
      execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    run('init', '-q');
    writeFileSync(join(root, 'README.md'), 'baseline\n');
    run('add', 'README.md');
    run('-c', 'user.name=bench', '-c', 'user.email=bench@example.com', 'commit', '-q', '-m', 'baseline');
    return run('rev-parse', '--short', 'HEAD');
  }
  return '';
}

describe('findBaseline', () => {
  test('a git checkout with a built CLI is a baseline at its absolute path, with its short commit', () => {
    const commit = checkout('git', true);
    expect(findBaseline(join(dir, 'git'))).toEqual({ root: join(dir, 'git'), commit });
  });

  test('a built copy that is not a git checkout has no commit, even inside another repository', () => {
    checkout('outer', true);
    mkdirSync(join(dir, 'outer', 'copy', 'dist', 'src'), { recursive: true });
    writeFileSync(join(dir, 'outer', 'copy', BUILT_CLI), '');
    expect(findBaseline(join(dir, 'outer', 'copy'))).toEqual({ root: join(dir, 'outer', 'copy'), commit: null });
  });

  test.each([
    ['does-not-exist', "'%s' does not exist"],
    ['a-file', "'%s' is not a directory"],
    ['unbuilt', `'%s' has no ${BUILT_CLI}: give a built checkout of iomux (npm install there)`],
  ])('%s is refused, saying why', (name, why) => {
    writeFileSync(join(dir, 'a-file'), '');
    mkdirSync(join(dir, 'unbuilt'), { recursive: true });
    const path = join(dir, name);
    expect(findBaseline(path)).toBe(why.replace('%s', path));
  });
});

describe('baselineRecord', () => {
  const baseline: Baseline = { root: join(dir, 'before'), commit: 'abc1234' };

  test('names the checkout relative to this one, so a committed report holds no machine path', () => {
    expect(baselineRecord(baseline, join(dir, 'after'))).toEqual({ dir: '../before', commit: 'abc1234' });
  });

  test('is "." when the baseline is this very checkout (an A/A run)', () => {
    expect(baselineRecord(baseline, baseline.root).dir).toBe('.');
  });
});

describe('withBaselineTwins', () => {
  const only = (...parts: string[]) => withBaselineTwins((id) => parts.some((p) => id.includes(p)));

  test.each([
    ['echo/iomux-epoll-protocol/', 'echo/iomux-epoll-protocol@base/c1-s64-k1', true],
    ['epoll/loop', 'pipes/a1-w100/n10/epoll/loop@base', true],
    ['@base', 'echo/iomux-epoll-protocol@base/c1-s64-k1', true],
    ['@base', 'echo/iomux-epoll-protocol/c1-s64-k1', false],
    ['echo/c/', 'echo/iomux-epoll-protocol@base/c1-s64-k1', false],
    ['echo/iomux-epoll-protocol/', 'echo/iomux-epoll-protocol-embedded@base/c1-s64-k1', false],
  ])('--only %s keeps %s: %s', (part, id, kept) => {
    expect(only(part)(id)).toBe(kept);
  });
});
