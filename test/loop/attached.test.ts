// Node-embedded mode (DESIGN §3): attach() lets Node's own event loop drive the Loop, so Node
// timers, promises and iomux callbacks all make progress in one ordinary Node program.
import { afterEach, describe, expect, it } from 'vitest';
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Loop } from '../../src/loop.js';
import { EpollSelector, type BackendName } from '../../src/selectors.js';
import { closeFd, drain, pipe, writeBytes } from '../helpers/fds.js';
import { cleanup } from '../helpers/resources.js';
import { sleep } from '../helpers/sleep.js';

const loops: Loop[] = [];
function attachedLoop(backend: BackendName = 'epoll'): Loop {
  const loop = new Loop({ backend });
  loops.push(loop);
  loop.attach();
  return loop;
}

afterEach(async () => {
  for (const loop of loops.splice(0)) loop.close();
  await cleanup();
});

const until = (cond: () => boolean, ms = 3000): Promise<void> =>
  new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = (): void => {
      if (cond()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error('condition not met in time'));
      else setTimeout(poll, 2);
    };
    poll();
  });

describe('attach(): Node drives the loop', () => {
  it('delivers readiness while Node timers keep running', async () => {
    const loop = attachedLoop();
    const [r, w] = pipe();
    const seen: string[] = [];
    loop.addReader(r, () => {
      drain(r);
      seen.push('iomux read');
      loop.removeReader(r);
    });
    setTimeout(() => { seen.push('node timer'); writeBytes(w, 'x'); }, 10);
    await until(() => seen.length === 2);
    expect(seen).toEqual(['node timer', 'iomux read']);
  });

  it('runs callSoon and callLater callbacks queued from Node code, in order', async () => {
    const loop = attachedLoop();
    const order: string[] = [];
    const t0 = performance.now();
    let firedAt = 0;
    loop.callLater(30, () => { firedAt = performance.now() - t0; order.push('later'); });
    loop.callSoon(() => order.push('soon'));
    await until(() => order.length === 2);
    expect(order).toEqual(['soon', 'later']);
    expect(firedAt).toBeGreaterThanOrEqual(29);
  });

  it('lets promise continuations from callbacks run without any run() call', async () => {
    const loop = attachedLoop();
    const value = await new Promise<string>((resolve) => loop.callSoon(() => resolve('resolved by a loop callback')));
    expect(value).toBe('resolved by a loop callback');
  });

  it('refuses select and poll, whose selectors have no pollable fd', () => {
    for (const backend of ['select', 'poll'] as const) {
      const loop = new Loop({ backend });
      loops.push(loop);
      expect(() => loop.attach()).toThrow(expect.objectContaining({ code: 'ERR_BACKEND_UNAVAILABLE' }));
      expect(loop.isAttached()).toBe(false);
    }
  });

  // libuv checks the fd with epoll_ctl on Linux, which refuses regular files (epoll_ctl(2): EPERM).
  it.runIf(process.platform === 'linux')('reports a selector fd libuv cannot watch as a system error, and stays usable', async () => {
    const file = openSync(fileURLToPath(import.meta.url), 'r');
    try {
      class Unwatchable extends EpollSelector {
        override fileno(): number { return file; }
      }
      const loop = new Loop({ selector: new Unwatchable() });
      loops.push(loop);
      expect(() => loop.attach()).toThrow(expect.objectContaining({ code: 'EPERM', errno: -constants.errno.EPERM, syscall: 'uv_poll_init' }));
      expect(loop.isAttached()).toBe(false);
      let ran = false;
      loop.callSoon(() => { ran = true; });
      await loop.run();
      expect(ran).toBe(true);
    } finally {
      closeSync(file);
    }
  });

  it('refuses run() while attached, and allows it again after detach()', async () => {
    const loop = attachedLoop();
    await expect(loop.run()).rejects.toMatchObject({ code: 'ERR_LOOP_RUNNING' });
    loop.detach();
    loop.detach(); // twice is fine
    let ran = false;
    loop.callSoon(() => { ran = true; });
    await loop.run();
    expect(ran).toBe(true);
  });

  it('stops delivering after detach(), and close() detaches', async () => {
    const loop = attachedLoop();
    const [r, w] = pipe();
    let calls = 0;
    loop.addReader(r, () => { calls++; drain(r); });
    loop.detach();
    writeBytes(w, 'x');
    await sleep(30);
    expect(calls).toBe(0);
    loop.attach();
    await until(() => calls === 1);
    loop.removeReader(r);
    closeFd(r);
    loop.close();
    expect(loop.isAttached()).toBe(false);
  });
});
