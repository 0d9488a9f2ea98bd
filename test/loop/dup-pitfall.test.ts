// epoll's dup pitfall on a Loop (DESIGN §6.1): removing the writer of an fd that was closed
// while a dup keeps its file open must not leave the loop spinning on a stale kernel entry, and
// an attached loop must keep receiving events after the selector repaired itself.
import { cleanup } from '../helpers/resources.js';
import { afterEach, describe, expect, test } from 'vitest';
import { errnoError } from '../../src/errors.js';
import { Loop } from '../../src/loop.js';
import { native } from '../../src/native.js';
import { closeFd, drain, pipe, socketpair, writeBytes } from '../helpers/fds.js';
import { backends, eventually, openLoop } from './helpers.js';

const dups = new Set<number>();
const attached: Loop[] = [];
afterEach(async () => {
  for (const loop of attached.splice(0)) loop.close();
  for (const fd of dups) native.close(fd);
  dups.clear();
  await cleanup();
});

function dup(fd: number): number {
  const d = native.dup(fd);
  if (d < 0) throw errnoError(d, 'fcntl');
  dups.add(d);
  return d;
}

describe.each(backends)('%s loop: the dup pitfall', (backend) => {
  test('§6.1 removeWriter of an fd closed under a live dup: the loop waits for its timer instead of spinning', async () => {
    const loop = openLoop(backend);
    const [a] = socketpair();
    let writes = 0;
    loop.addWriter(a, () => {
      writes++;
      dup(a);
      closeFd(a);
      loop.removeWriter(a);
      loop.callLater(20, () => {});
    });
    await loop.run();
    expect(writes).toBe(1);
    // One iteration for the writer, one or two while the timer is due: a spinning loop makes
    // thousands in 20 ms.
    expect(loop.selector.selects).toBeLessThan(10);
  });
});

describe('attached epoll loop: the dup pitfall', () => {
  test.skipIf(!backends.includes('epoll'))(
    '§6.1 after the selector rebuilds its epoll instance, Node keeps driving the loop',
    async () => {
      const loop = new Loop({ backend: 'epoll' });
      attached.push(loop);
      loop.attach();
      const [a] = socketpair();
      const [r, w] = pipe();
      let read = 0;
      loop.addWriter(a, () => {});
      loop.addReader(r, () => {
        drain(r);
        read++;
      });
      // libuv registers the watched fd on its next turn: let that happen before the rebuild.
      writeBytes(w);
      await eventually(() => read === 1);
      dup(a);
      closeFd(a);
      loop.removeWriter(a);
      writeBytes(w);
      await eventually(() => read === 2);
      writeBytes(w);
      await eventually(() => read === 3);
      loop.removeReader(r);
    },
  );
});

describe('attached epoll loop: a rebuild from inside a callback', () => {
  test.skipIf(!backends.includes('epoll'))(
    '§6.1 a reader that triggers the rebuild while Node runs it: the loop keeps being driven',
    async () => {
      const loop = new Loop({ backend: 'epoll' });
      attached.push(loop);
      loop.attach();
      const [a] = socketpair();
      const [r, w] = pipe();
      let read = 0;
      loop.addWriter(a, () => {});
      loop.addReader(r, () => {
        drain(r);
        read++;
        if (read === 1) {
          dup(a);
          closeFd(a);
          loop.removeWriter(a); // the selector rebuilds; the watcher being run is replaced
        }
      });
      writeBytes(w);
      await eventually(() => read === 1);
      writeBytes(w);
      await eventually(() => read === 2);
      loop.removeReader(r);
    },
  );
});
