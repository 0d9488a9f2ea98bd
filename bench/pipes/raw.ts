// The pipes method on the raw Selector API: selectRaw(0) and the (fd, mask) pairs it leaves in
// selector.ready, dispatched straight to the read callback. The thinnest JS loop iomux allows,
// and the same loop as pipes.c's: one non-blocking wait after another until count == fired.
import { createSelector, EVENT_READ } from '../../src/selectors.js';
import { Chain, WarmUp, type PipesOutcome, type PipesRun } from './pairs.js';

/**
 * Runs unrecorded rounds for `warmupMs`, then `rounds` recorded ones (registration happens
 * before, untimed).
 */
export function runRaw({ pairs, backend, active, writes, rounds, warmupMs }: PipesRun): PipesOutcome {
  const sel = createSelector(backend);
  const fdToIdx = new Int32Array(pairs.maxFd + 1).fill(-1);
  for (let i = 0; i < pairs.n; i++) {
    sel.register(pairs.rfds[i], EVENT_READ);
    fdToIdx[pairs.rfds[i]] = i;
  }
  const chain = new Chain(pairs);
  const ready = sel.ready;
  const us: number[] = [];
  const warm = new WarmUp(warmupMs);
  while (us.length < rounds) {
    chain.seed(active, writes);
    const t0 = performance.now();
    do {
      const count = sel.selectRaw(0);
      for (let k = 0; k < count; k++) chain.read(fdToIdx[ready[2 * k]]);
    } while (!chain.done);
    const t1 = performance.now();
    if (!warm.counts(t1)) us.push((t1 - t0) * 1000);
  }
  sel.close();
  return { us, warmupRounds: warm.rounds, failures: chain.failures };
}
