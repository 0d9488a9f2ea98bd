// detach() and close() leave nothing behind (issue 12 item 4): no thread (/proc/self/task), no
// handle on Node's event loop (counted natively with uv_walk, since addon handles do not show in
// process.getActiveResourcesInfo()), no fd — also after 1000 attach/detach cycles, on every
// backend. select and poll attached own one wait thread each; epoll and kqueue own none.
// (process.getActiveResourcesInfo() lists only Node's own handle wrappers, and vitest's timers
// come and go in it, so the handle count comes from uv_walk over Node's loop instead.)
import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { Loop } from '../../src/loop.js';
import { native } from '../../src/native.js';
import { drain, pipe, writeBytes } from '../helpers/fds.js';
import { cleanup, openFdCount } from '../helpers/resources.js';
import { attachable } from './helpers.js';

afterEach(cleanup);

const threadCount = (): number => readdirSync('/proc/self/task').length;
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve)); // uv_close callbacks

interface Census {
  threads: number;
  handles: number;
  fds: number;
}
/**
 * The fds, uv handles and threads now. With `settleTo`, a thread count above its count is read
 * again (every 5 ms, 2 s at most): the kernel wakes pthread_join() when the thread clears its tid,
 * before the thread is reaped and leaves /proc/self/task, so a joined thread can still be listed
 * for a moment (seen once in a loaded CI run). A thread that really stays still fails.
 */
async function census(settleTo?: Census): Promise<Census> {
  await flush();
  for (let i = 0; settleTo !== undefined && threadCount() > settleTo.threads && i < 400; i++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return {
    threads: threadCount(),
    handles: native.uvHandles(),
    fds: openFdCount(),
  };
}

const ownsThread = (backend: string) => backend === 'select' || backend === 'poll';

describe.each(attachable)('%s attach/detach leaves nothing behind', (backend) => {
  it('one thread and one handle while attached (select/poll; a handle only for epoll/kqueue), none after detach()', async () => {
    const [r, w] = pipe();
    const loop = new Loop({ backend });
    loop.addReader(r, () => drain(r));
    const before = await census();
    loop.attach();
    expect(threadCount()).toBe(before.threads + (ownsThread(backend) ? 1 : 0));
    expect(native.uvHandles()).toBe(before.handles + 1);
    writeBytes(w);
    loop.detach();
    expect(await census(before)).toEqual(before);
    loop.close();
  });

  it('1000 attach/detach cycles with a reader registered, then close(): back to the start', async () => {
    const [r, w] = pipe();
    const start = await census();
    const loop = new Loop({ backend });
    let reads = 0;
    loop.addReader(r, () => {
      reads++;
      drain(r);
    });
    const until = async (cond: () => boolean): Promise<void> => {
      for (let spins = 0; !cond(); spins++) {
        if (spins > 5000) throw new Error('condition not met in time');
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    };
    for (let i = 0; i < 1000; i++) {
      loop.attach();
      if (i % 100 === 0) {
        // Now and then a batch is dispatched before the detach ...
        const seen = reads;
        writeBytes(w);
        await until(() => reads > seen);
      } else if (i % 100 === 50) {
        // ... or may still be in flight when it comes.
        writeBytes(w);
      }
      loop.detach();
    }
    expect(reads).toBeGreaterThanOrEqual(10);
    loop.removeReader(r);
    loop.close();
    expect(await census(start)).toEqual(start);
  });

  it('close() while attached, and a selector closed behind an attached loop, leave nothing', async () => {
    const start = await census();
    const a = new Loop({ backend });
    a.attach();
    a.close();
    const b = new Loop({ backend });
    b.attach();
    b.selector.close(); // the wait thread (select/poll) is joined with its selector
    b.close();
    expect(await census(start)).toEqual(start);
  });
});
