// The wait thread behind attach() on select and poll (native/wait_thread.h), driven directly
// through the addon so each step of the hand-off is under the test's control: the thread posts a
// batch and Node's loop calls onReady; the selector's wait(0) takes it; the thread waits again
// only after onReady returned. Pinned here: a batch older than a registration change is never
// delivered (the stale-event rule), a drained fd is not reported again, and the thread reports
// registrations made while it was blocked.
import { constants } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { BACKEND_IDS, native, type NativeSelectorHandle, type NativeThreadWatch } from '../../src/native.js';
import { EVENT_READ } from '../../src/selectors.js';
import { closeFd, drain, pipe, writeBytes } from '../helpers/fds.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

const opened: Array<{ sel: NativeSelectorHandle; watch: NativeThreadWatch }> = [];
afterEach(async () => {
  for (const { sel, watch } of opened.splice(0)) {
    watch.close();
    sel.close();
  }
  await cleanup();
});

/** A native select/poll selector with a started wait thread calling `onReady(results)`. */
function threaded(backend: 'select' | 'poll', onReady: (sel: NativeSelectorHandle, results: Int32Array) => void) {
  const results = new Int32Array(2 * 64);
  const sel = new native.NativeSelector(results);
  expect(sel.open(BACKEND_IDS[backend])).toBe(0);
  const watch = new native.ThreadWatch(() => onReady(sel, results));
  opened.push({ sel, watch });
  expect(watch.start(sel)).toBe(0);
  return { sel, results };
}

const until = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
};

describe.each(['select', 'poll'] as const)('%s wait thread', (backend) => {
  it('reports an fd registered while it was blocked, and its batch is what wait(0) returns', async () => {
    const taken: number[][] = [];
    const { sel } = threaded(backend, (s, results) => {
      const n = s.wait(0);
      taken.push([...results.subarray(0, 2 * Math.max(n, 0))]);
    });
    const [r, w] = pipe();
    await sleep(5); // let the thread block first
    expect(sel.add(r, EVENT_READ)).toBe(0);
    writeBytes(w);
    await until(() => taken.length > 0);
    expect(taken[0]).toEqual([r, EVENT_READ]);
    expect(sel.remove(r)).toBe(0);
  });

  it('never delivers a batch taken before a registration change: the fd number reused meanwhile gets nothing', async () => {
    const seen: Array<{ count: number; pairs: number[] }> = [];
    let reuse: (() => void) | null = null;
    const { sel } = threaded(backend, (s, results) => {
      reuse?.(); // between the thread's wait and the loop's wait(0): the old fd goes, a new one takes its number
      reuse = null;
      const count = s.wait(0);
      seen.push({ count, pairs: [...results.subarray(0, 2 * Math.max(count, 0))] });
    });
    const [r, w] = pipe();
    expect(sel.add(r, EVENT_READ)).toBe(0);
    let fresh = -1;
    reuse = () => {
      expect(sel.remove(r)).toBe(0);
      closeFd(r);
      closeFd(w);
      const [r2] = pipe(); // empty: not readable
      fresh = r2;
      expect(sel.add(r2, EVENT_READ)).toBe(0);
    };
    writeBytes(w);
    await until(() => seen.length > 0);
    expect(fresh).toBe(r); // the kernel handed out the same number
    expect(seen[0]).toEqual({ count: 0, pairs: [] });
    expect(sel.remove(fresh)).toBe(0);
  });

  it('does not report an fd again once the callbacks drained it', async () => {
    let batches = 0;
    const [r, w] = pipe();
    const { sel } = threaded(backend, (s) => {
      batches++;
      if (s.wait(0) > 0) drain(r);
    });
    expect(sel.add(r, EVENT_READ)).toBe(0);
    writeBytes(w);
    await until(() => batches === 1);
    await sleep(30);
    expect(batches).toBe(1);
    writeBytes(w);
    await until(() => batches === 2);
    expect(sel.remove(r)).toBe(0);
  });

  it('start() refuses a second start and a closed selector; close() then hands the selector back', () => {
    const { sel } = threaded(backend, () => {});
    const again = new native.ThreadWatch(() => {});
    expect(again.start(sel)).toBe(-constants.errno.EINVAL); // the backend is already a wait thread
    again.close();
    const closed = new native.NativeSelector(new Int32Array(2));
    expect(closed.open(BACKEND_IDS[backend])).toBe(0);
    closed.close();
    const late = new native.ThreadWatch(() => {});
    expect(late.start(closed)).toBe(-constants.errno.EBADF);
    late.close();
    expect(() => new native.ThreadWatch(() => {}).start({} as NativeSelectorHandle)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });
});
