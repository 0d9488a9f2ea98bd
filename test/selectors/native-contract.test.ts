// The native Selector contract (native/selector.h) checked below the TypeScript layer, which
// would otherwise hide a backend that disagrees: add() of a registered fd is -EEXIST, modify()
// and remove() of an unregistered one -ENOENT, remove() of a closed one succeeds, and every
// answer is a number, never a throw.
import { constants as osConstants } from 'node:os';
import { afterEach, describe, expect, test } from 'vitest';
import { BACKEND_IDS, native, type NativeSelectorHandle } from '../../src/native.js';
import { availableBackends } from '../../src/selectors.js';
import { EVENT_READ, EVENT_WRITE, closeFd, socketpair, writeBytes } from '../helpers/fds.js';
import { cleanup } from '../helpers/resources.js';

const { EEXIST, ENOENT } = osConstants.errno;
const handles: NativeSelectorHandle[] = [];

afterEach(async () => {
  for (const h of handles.splice(0)) h.close();
  await cleanup();
});

describe.each(availableBackends())('native %s selector', (backend) => {
  const results = new Int32Array(64);
  const open = (): NativeSelectorHandle => {
    const h = new native.NativeSelector(results);
    expect(h.open(BACKEND_IDS[backend])).toBe(0);
    handles.push(h);
    return h;
  };

  test('add() of an fd already registered is -EEXIST and keeps the first registration', () => {
    const h = open();
    const [a, b] = socketpair();
    expect(h.add(a, EVENT_READ)).toBe(0);
    expect(h.add(a, EVENT_WRITE)).toBe(-EEXIST);
    writeBytes(b);
    expect(h.wait(0)).toBe(1);
    expect([results[0], results[1]]).toEqual([a, EVENT_READ]);
  });

  test('modify() and remove() of an fd never registered are -ENOENT', () => {
    const h = open();
    const [a] = socketpair();
    expect(h.modify(a, EVENT_READ)).toBe(-ENOENT);
    expect(h.remove(a)).toBe(-ENOENT);
  });

  test('after remove() the fd reports nothing and can be added again', () => {
    const h = open();
    const [a, b] = socketpair();
    writeBytes(b);
    expect(h.add(a, EVENT_READ | EVENT_WRITE)).toBe(0);
    expect(h.remove(a)).toBe(0);
    expect(h.wait(0)).toBe(0);
    expect(h.add(a, EVENT_READ)).toBe(0);
    expect(h.wait(0)).toBe(1);
    expect([results[0], results[1]]).toEqual([a, EVENT_READ]);
  });

  test('modify() narrows what is reported to the new interest', () => {
    const h = open();
    const [a, b] = socketpair();
    writeBytes(b);
    expect(h.add(a, EVENT_READ | EVENT_WRITE)).toBe(0);
    expect(h.wait(0)).toBe(1);
    expect(results[1]).toBe(EVENT_READ | EVENT_WRITE);
    expect(h.modify(a, EVENT_WRITE)).toBe(0);
    expect(h.wait(0)).toBe(1);
    expect([results[0], results[1]]).toEqual([a, EVENT_WRITE]);
  });

  test('remove() of a registered fd closed behind its back succeeds, natively (selector.h)', () => {
    const h = open();
    const [a] = socketpair();
    expect(h.add(a, EVENT_READ | EVENT_WRITE)).toBe(0);
    closeFd(a);
    // epoll and kqueue forget the closed file; select and poll report it (asked bits) until removed.
    if (backend === 'epoll' || backend === 'kqueue') expect(h.wait(0)).toBe(0);
    expect(h.remove(a)).toBeGreaterThanOrEqual(0); // 1: epoll rebuilt its kernel object
    expect(h.remove(a)).toBe(-ENOENT);
  });
});
