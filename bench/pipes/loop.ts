// The pipes method through the public Loop API: one addReader callback per pair (registered
// before timing), and each round is one loop.run() that the callback stops once count == fired.
// What this costs over raw.ts is the Loop's dispatch: callbacks, bookkeeping, run()'s start in a
// setImmediate and its promise, the microtask drain after each iteration, and one kernel effect:
// the Loop waits with no timeout (it has nothing else to do), and poll(2)/select(2) with a timeout
// add a wait-queue entry for each fd they scan before the first ready one, which a zero timeout
// (raw.ts, pipes.c) skips. epoll_wait has no per-fd cost either way.
import { Loop } from '../../src/loop.js';
import type { BackendName } from '../../src/selectors.js';
import { Chain, WarmUp, type PipesOutcome, type PipesRun } from './pairs.js';

/** Runs unrecorded rounds for `warmupMs`, then `rounds` recorded ones. */
export async function runLoop(run: PipesRun): Promise<PipesOutcome> {
  const loop = new Loop({ backend: run.backend as BackendName });
  const chain = new Chain(run.pairs);
  for (let i = 0; i < run.pairs.n; i++) {
    loop.addReader(run.pairs.rfds[i], () => {
      chain.read(i);
      if (chain.done) loop.stop();
    });
  }
  return timeRounds(run, loop, chain, () => 0);
}

/**
 * The rounds of a variant on the Loop: seed, then one loop.run() that the variant stops once
 * count == fired (or once `failed()` counts a failure). Closes the loop.
 */
export async function timeRounds(run: PipesRun, loop: Loop, chain: Chain, failed: () => number): Promise<PipesOutcome> {
  const us: number[] = [];
  const warm = new WarmUp(run.warmupMs);
  while (us.length < run.rounds && failed() === 0) {
    chain.seed(run.active, run.writes);
    const t0 = performance.now();
    await loop.run();
    const t1 = performance.now();
    if (!chain.done && failed() === 0)
      throw new Error(`pipes: loop.run() returned with ${chain.fired - chain.count} bytes unread`);
    if (!warm.counts(t1)) us.push((t1 - t0) * 1000);
  }
  loop.close();
  return { us, warmupRounds: warm.rounds, failures: chain.failures + failed() };
}
