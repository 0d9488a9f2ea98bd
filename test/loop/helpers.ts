// Helpers for the loop tests: loops whose selector is bounded in time and counts iterations. Every
// loop is held in ../helpers/resources.ts, whose cleanup() closes it.
//
// Node's own timers cannot fire while run() waits in the selector, so a vitest timeout would
// never end a hung test. Instead every loop made here polls a DeadlineSelector: each wait is cut
// to what is left of the test's budget, and once the budget is spent select throws, so run()
// rejects with "test deadline exceeded" instead of hanging.
import { performance } from 'node:perf_hooks';
import { Loop } from '../../src/loop.js';
import { BaseSelector, availableBackends, type BackendName } from '../../src/selectors.js';
import { hold } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

export const backends = availableBackends();

/** A selector whose waits end by a deadline, and which counts them (one per loop iteration). */
export class DeadlineSelector extends BaseSelector {
  /** selectRaw() calls so far: the loop makes exactly one per iteration. */
  selects = 0;
  readonly #deadline: number;

  constructor(backend: BackendName, budgetMs: number) {
    super(backend);
    this.#deadline = performance.now() + budgetMs;
  }

  override selectRaw(timeoutMs?: number | null): number {
    return super.selectRaw(this.#bounded(timeoutMs));
  }

  /** The batched path's wait (the loop's default): counted and bounded the same way. */
  override _cycle(timeoutMs?: number | null): number {
    return super._cycle(this.#bounded(timeoutMs));
  }

  #bounded(timeoutMs: number | null | undefined): number {
    this.selects++;
    const left = this.#deadline - performance.now();
    if (left <= 0) throw new Error('test deadline exceeded: the loop was still waiting');
    return timeoutMs === null || timeoutMs === undefined || timeoutMs > left ? left : timeoutMs;
  }
}

/**
 * A loop on `backend` that fails its run() once `budgetMs` have passed. Closed by cleanup().
 * Its exception handler collects what callbacks throw, and cleanup() fails the test with the first
 * one if anything was collected; tests about exceptions set their own handler.
 */
export function openLoop(backend: BackendName, budgetMs = 5000, batch = true): Loop & { selector: DeadlineSelector } {
  const loop = new Loop({ selector: new DeadlineSelector(backend, budgetMs), batch });
  const uncaught: unknown[] = [];
  loop.setExceptionHandler((err) => {
    uncaught.push(err);
  });
  hold(() => {
    if (!loop.isRunning()) loop.close();
    if (uncaught.length > 0) throw uncaught[0];
  });
  return loop as Loop & { selector: DeadlineSelector };
}

/**
 * Runs `loop` and returns the wall time since `start` (default: now), in milliseconds. A test
 * whose wait is ended by a child process passes the time taken before spawning it: the child's
 * clock starts during spawn(), and on a loaded machine spawn() can return well after that.
 */
export async function timedRun(loop: Loop, start = performance.now()): Promise<number> {
  await loop.run();
  return performance.now() - start;
}

/** Asserts-friendly capture of a thrown or rejected error's class and code. */
export function codeOf(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}

/** Resolves once cond() holds, polling on Node's own loop; rejects after ms. */
export async function eventually(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** Backends a Loop can attach() to Node's event loop on: all of them (issue 12). */
export const attachable = backends;
