// --baseline DIR: another built checkout of iomux (an older commit, say) whose echo servers and
// pipes workers run beside this checkout's in the same bench run, their ids suffixed '@base'.
// On a shared VM two processes of one program differ by up to 30% (README, Performance), more
// than most changes being judged, so before and after are measured interleaved in one run, where
// they meet the same machine state, rather than in two runs compared afterwards.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/** Appended to the id of every case, server and implementation run from the baseline checkout. */
export const BASELINE_SUFFIX = '@base';

export interface Baseline {
  /** The checkout's root, absolute. */
  readonly root: string;
  /** `git rev-parse --short HEAD` in it, or null when it is not a git checkout. */
  readonly commit: string | null;
}

/** A checkout's built CLI, which runs the echo servers: the one file --baseline insists on. */
export const BUILT_CLI = join('dist', 'src', 'cli.js');
/** A checkout's built pipes worker; a baseline without one has only its pipes cases missing. */
export const BUILT_WORKER = join('dist', 'bench', 'pipes', 'worker.js');

function shortCommit(root: string): string | null {
  // Only a checkout's own .git (a directory, or a worktree's file): a build copied into some other
  // repository must not be labelled with that repository's HEAD.
  if (!existsSync(join(root, '.git'))) return null;
  try {
    return execFileSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    }).trim();
  } catch {
    return null;
  }
}

/** The built checkout at `dir` (relative to the working directory), or why it cannot be a baseline. */
export function findBaseline(dir: string): Baseline | string {
  const root = resolve(dir);
  if (!existsSync(root)) return `'${dir}' does not exist`;
  if (!statSync(root).isDirectory()) return `'${dir}' is not a directory`;
  if (!existsSync(join(root, BUILT_CLI))) {
    return `'${dir}' has no ${BUILT_CLI}: give a built checkout of iomux (npm install there)`;
  }
  return { root, commit: shortCommit(root) };
}

/**
 * What the JSON report records: the checkout relative to this one's root, so a report committed
 * to docs/results names no machine's paths, and the commit, which is what a reader needs.
 */
export function baselineRecord(baseline: Baseline, root: string): { dir: string; commit: string | null } {
  return { dir: relative(root, baseline.root) || '.', commit: baseline.commit };
}

/**
 * Wraps an --only filter so a baseline case is kept wherever its counterpart would be:
 * `echo/iomux-epoll-protocol/` keeps `echo/iomux-epoll-protocol@base/` too, while `@base`
 * alone selects the baseline cases only.
 */
export function withBaselineTwins(filter: (id: string) => boolean): (id: string) => boolean {
  return (id) => filter(id) || (id.includes(BASELINE_SUFFIX) && filter(id.replace(BASELINE_SUFFIX, '')));
}
