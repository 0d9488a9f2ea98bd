// The fuzzer's leak check (fuzz/fd-leaks.ts): it must name an fd of a kind a fuzz world opens
// that a case left open or closed behind its back, and must not blame the world for fds Node
// opens on its own (a tty reopened for process.stderr, a file).
import { afterEach, describe, expect, it } from 'vitest';
import { fdChanges, openFds } from '../../fuzz/fd-leaks.js';
import { native } from '../../src/native.js';
import { cleanup, hold } from '../helpers/resources.js';

afterEach(cleanup);

const snapshot = (entries: Array<[number, string]>) => new Map(entries);
const base: Array<[number, string]> = [
  [0, '/dev/null'],
  [1, 'pipe:[100]'],
  [2, 'pipe:[101]'],
  [10, 'anon_inode:[eventpoll]'],
];

describe('fdChanges', () => {
  it('nothing changed: nothing to report', () => {
    expect(fdChanges(snapshot(base), snapshot(base))).toEqual([]);
  });

  it.each([['socket:[555]'], ['pipe:[556]'], ['anon_inode:[eventpoll]'], ['anon_inode:[eventfd]']])(
    'a %s left open is reported, with its number',
    (target) => {
      const changes = fdChanges(snapshot(base), snapshot([...base, [11, target]]));
      expect(changes).toEqual([`fd 11 (${target}) left open`]);
    },
  );

  it('an fd number reused for another socket is a leak too', () => {
    const before = snapshot([...base, [11, 'socket:[1]']]);
    const after = snapshot([...base, [11, 'socket:[2]']]);
    expect(fdChanges(before, after)).toEqual(['fd 11 (socket:[2]) left open']);
  });

  it('closing an fd the world did not open is reported', () => {
    const after = snapshot(base.filter(([fd]) => fd !== 10));
    expect(fdChanges(snapshot(base), after)).toEqual([
      'fd 10 (anon_inode:[eventpoll]) closed, but the world never opened it',
    ]);
  });

  it.each([['/dev/pts/0'], ['/dev/null'], ['/proc/12/maps'], ['/tmp/some-file']])(
    "an fd Node opens on its own (%s) is not the world's",
    (target) => {
      expect(fdChanges(snapshot(base), snapshot([...base, [11, target]]))).toEqual([]);
    },
  );
});

describe('openFds', () => {
  it('sees a pipe opened between two snapshots, and not once it is closed', () => {
    const before = openFds();
    const fds = native.pipe();
    if (typeof fds === 'number') throw new Error(`pipe2 failed: ${fds}`);
    let open = true;
    hold(() => {
      if (open) for (const fd of fds) native.close(fd);
    });
    const changes = fdChanges(before, openFds());
    expect(changes).toHaveLength(2);
    for (const fd of fds) expect(changes.some((c) => c.startsWith(`fd ${fd} (pipe:[`))).toBe(true);
    for (const fd of fds) native.close(fd);
    open = false;
    expect(fdChanges(before, openFds())).toEqual([]);
  });
});
