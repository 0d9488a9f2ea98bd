// Draining promise jobs and nextTicks in place, between two iterations of a running Loop.
//
// run() is async and Node drains promise jobs and nextTicks only between macrotasks, so a loop
// that kept selecting inside one macrotask would block while a callback's promise continuations
// (an `await` chain that ends in addReader) are still pending. After every iteration that ran a
// callback, and before the next select (blocking or not), the loop drains them in place with
// Node's runNextTicks (`process._tickCallback`: the function Node itself runs between two
// setImmediate callbacks; nextTicks and microtasks until both queues are empty). So continuations
// always run between two iterations, and a busy loop never starves them.
//
// `_tickCallback` is undocumented (DEP0134, documentation-only: --pending-deprecation prints a
// warning once), so it is probed on the first run() (a queued microtask must have run) and the
// loop falls back to a setImmediate yield after each iteration that ran callbacks if it fails.
// Measured (Node 20, x86-64, 2 vCPUs; user CPU): the drain alone costs ~14 ns when the queues are
// empty; a whole iteration of run() with one ready reader costs ~220-260 ns with the in-place
// drain (most of it the selectRaw N-API call) against ~1.05-1.3 us with the setImmediate fallback.

/** How the loop lets microtasks run: not yet probed, in place, or by yielding to a setImmediate. */
export type DrainMode = 'unknown' | 'in-place' | 'immediate';

let mode: DrainMode = 'unknown';
const tickCallback = (process as unknown as { _tickCallback?: () => void })._tickCallback;

/** @internal For tests and benchmarks: force the fallback ('immediate') or re-probe ('unknown'). */
export function _setDrainMode(next: DrainMode): void {
  mode = next;
}

/** @internal Which mechanism the loop uses ('unknown' until the first run() probed it). */
export function _drainMode(): DrainMode {
  return mode;
}

/**
 * Decides, once, whether runNextTicks drains here. Call it at the start of a macrotask (a
 * setImmediate callback): inside a microtask the probe would fail.
 */
export function probeDrain(): void {
  if (mode !== 'unknown') return;
  if (typeof tickCallback !== 'function') {
    mode = 'immediate';
    return;
  }
  let ran = false;
  queueMicrotask(() => void (ran = true));
  tickCallback();
  mode = ran ? 'in-place' : 'immediate';
}

/**
 * Runs pending nextTicks and microtasks now and returns true, or returns false when they can
 * only run once the caller yields to a new macrotask. A nextTick callback that throws makes this
 * throw, as it would have thrown from Node's own drain.
 */
export function drainMicrotasks(): boolean {
  if (mode !== 'in-place') return false;
  tickCallback!(); // ~14 ns when nothing is pending
  return true;
}
