// No fd leaks (STYLE principle 10 "every test closes what it opened"; DESIGN §2 close()): making
// and closing selectors leaves the process's fd table as it was, on every backend, including
// selectors closed after registrations, failed registrations and waits.
import { afterEach, describe, expect, test } from 'vitest';
import { availableBackends, createSelector, type BaseSelector } from '../../src/selectors.js';
import { EVENT_READ, RW, closeFd, expectError, pipe, socketpair, unusedFd } from '../helpers/fds.js';
import { cleanup, openFdCount } from '../helpers/resources.js';

afterEach(cleanup);

describe.each(availableBackends())('%s selector', (backend) => {
  test('§2 close(): creating and closing 500 selectors leaves the fd count unchanged', () => {
    const before = openFdCount();
    for (let i = 0; i < 500; i++) createSelector(backend).close();
    expect(openFdCount()).toBe(before);
  });

  test('§2 close(): 500 selectors open at once hold (epoll) one fd each or (select, poll) none, and give them all back', () => {
    const before = openFdCount();
    const sels: BaseSelector[] = [];
    try {
      for (let i = 0; i < 500; i++) sels.push(createSelector(backend));
      // Proves the count sees what a leak would look like: epoll holds a kernel object per selector.
      expect(openFdCount() - before).toBe(backend === 'epoll' || backend === 'kqueue' ? 500 : 0);
    } finally {
      for (const sel of sels) sel.close();
    }
    expect(openFdCount()).toBe(before);
  });

  test('§2 close(): selectors closed with registrations, after failed registrations and waits, leak nothing', () => {
    const [a] = socketpair();
    const [r] = pipe();
    const before = openFdCount();
    for (let i = 0; i < 200; i++) {
      const sel = createSelector(backend);
      sel.register(a, RW);
      sel.register(r, EVENT_READ);
      expectError(() => sel.register(a, EVENT_READ), Error, 'ERR_FD_ALREADY_REGISTERED');
      sel.select(0);
      if (i % 2 === 0) sel.unregister(a);
      sel.close();
    }
    expect(openFdCount()).toBe(before);
  });

  test('§2 close(): failed registrations (EBADF) leave no fd behind', () => {
    const sel = createSelector(backend);
    try {
      const bad = unusedFd();
      const before = openFdCount();
      for (let i = 0; i < 100; i++) expectError(() => sel.register(bad, EVENT_READ), Error, 'EBADF');
      expect(openFdCount()).toBe(before);
    } finally {
      sel.close();
    }
  });

  test('§10 cleanup: the test helpers close every fd they opened', async () => {
    const before = openFdCount();
    for (let i = 0; i < 50; i++) {
      pipe();
      socketpair();
    }
    const [r] = pipe();
    closeFd(r); // closed early: cleanup must not close it again (or a later fd with its number)
    expect(openFdCount()).toBe(before + 201);
    await cleanup();
    expect(openFdCount()).toBe(before);
  });
});
