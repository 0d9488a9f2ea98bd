// The pipes method through the public Loop API: one addReader callback per pair (registered
// before timing), and each round is one loop.run() that the callback stops once count == fired.
// What this costs over raw.ts is the Loop's dispatch: callbacks, bookkeeping, run()'s start in a
// setImmediate and its promise, the microtask drain after each iteration, and one kernel effect:
// the Loop waits with no timeout (it has nothing else to do), and poll(2)/select(2) with a timeout
// add a wait-queue entry for each fd they scan before the first ready one, which a zero timeout
// (raw.ts, pipes.c) skips. epoll_wait has no per-fd cost either way.
import { Loop } from '../../src/loop.js';
import type { BackendName } from '../../src/selectors.js';
import { Chain, WarmUp, type Pairs } from './pairs.js';

/** Runs unrecorded rounds for `warmupMs`, then `rounds` recorded ones; returns µs per recorded round. */
export async function runLoop(
  pairs: Pairs,
  backend: string,
  active: number,
  writes: number,
  rounds: number,
  warmupMs = 0,
): Promise<{ us: number[]; warmupRounds: number; failures: number }> {
  const loop = new Loop({ backend: backend as BackendName });
  const chain = new Chain(pairs);
  for (let i = 0; i < pairs.n; i++) {
    loop.addReader(pairs.rfds[i], () => {
      chain.read(i);
      if (chain.done) loop.stop();
    });
  }
  const us: number[] = [];
  const warm = new WarmUp(warmupMs);
  while (us.length < rounds) {
    chain.seed(active, writes);
    const t0 = performance.now();
    await loop.run();
    const t1 = performance.now();
    if (!chain.done) throw new Error(`pipes: loop.run() returned with ${chain.fired - chain.count} bytes unread`);
    if (!warm.counts(t1)) us.push((t1 - t0) * 1000);
  }
  loop.close();
  return { us, warmupRounds: warm.rounds, failures: chain.failures };
}
