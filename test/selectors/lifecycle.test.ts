// A selector's life (DESIGN §3 "Public API contract" and "Errors"): creating one by name, the
// platform default, closing (twice), [Symbol.dispose], ERR_SELECTOR_CLOSED after close, and the
// epoll fd that another selector can watch.
import { afterEach, describe, expect, test } from 'vitest';
import {
  BaseSelector,
  DefaultSelector,
  EpollSelector,
  KqueueSelector,
  PollSelector,
  SelectSelector,
  availableBackends,
  createSelector,
  type BackendName,
} from '../../src/selectors.js';
import {
  EVENT_READ,
  EVENT_WRITE,
  RW,
  expectError,
  expectNothingReady,
  expectReady,
  openSelector,
  pipe,
  socketpair,
  writeBytes,
} from '../helpers/fds.js';
import { existsSync } from 'node:fs';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

const CLASSES: Record<BackendName, new () => BaseSelector> = {
  select: SelectSelector,
  poll: PollSelector,
  epoll: EpollSelector,
  kqueue: KqueueSelector,
};

// `npm run test:kqueue` loads a test build that adds kqueue through the <sys/event.h> double.
const KQUEUE_DOUBLE = process.env.IOMUX_VARIANT === 'kqueue-double';

describe.runIf(process.platform === 'linux')('backends on Linux', () => {
  test("§3 API: availableBackends() is select, poll and epoll on Linux (kqueue only in the double's test build)", () => {
    expect(availableBackends()).toEqual(
      KQUEUE_DOUBLE ? ['select', 'poll', 'epoll', 'kqueue'] : ['select', 'poll', 'epoll'],
    );
  });

  test('§3 API: DefaultSelector is epoll on Linux, and so is createSelector()', () => {
    expect(DefaultSelector).toBe(EpollSelector);
    const sel = new DefaultSelector();
    try {
      expect(sel).toBeInstanceOf(EpollSelector);
      expect(sel.backend).toBe('epoll');
    } finally {
      sel.close();
    }
    const made = createSelector();
    try {
      expect(made.backend).toBe('epoll');
      expect(made).toBeInstanceOf(EpollSelector);
    } finally {
      made.close();
    }
  });

  test.skipIf(KQUEUE_DOUBLE)(
    '§3 Errors: kqueue on Linux fails with ERR_BACKEND_UNAVAILABLE, by name or by class',
    () => {
      const err = expectError(() => createSelector('kqueue'), Error, 'ERR_BACKEND_UNAVAILABLE');
      expect(err.message).toMatch(/kqueue/);
      expectError(() => new KqueueSelector(), Error, 'ERR_BACKEND_UNAVAILABLE');
    },
  );
});

describe('createSelector', () => {
  test.each(['nope', 'EPOLL', '', 'toString', '__proto__'])(
    '§3 Errors: createSelector(%j) is refused with RangeError ERR_INVALID_ARG_VALUE',
    (name) => {
      expectError(() => createSelector(name), RangeError, 'ERR_INVALID_ARG_VALUE');
    },
  );

  test.each<[string, unknown]>([
    ['number', 1],
    ['null', null],
    ['object', {}],
  ])('§3 Errors: createSelector(<%s>) is refused with TypeError ERR_INVALID_ARG_TYPE', (_, name) => {
    expectError(() => createSelector(name as string), TypeError, 'ERR_INVALID_ARG_TYPE');
  });
});

describe.each(availableBackends())('%s selector', (backend) => {
  test('§3 API: createSelector(name) and the named class make a selector of that backend', () => {
    const byName = openSelector(backend);
    expect(byName.backend).toBe(backend);
    expect(byName).toBeInstanceOf(CLASSES[backend]);
    expect(byName).toBeInstanceOf(BaseSelector);
    const byClass = new CLASSES[backend]();
    try {
      expect(byClass.backend).toBe(backend);
    } finally {
      byClass.close();
    }
  });

  test('§3 Errors: every call but close() on a closed selector fails with ERR_SELECTOR_CLOSED', () => {
    const sel = openSelector(backend);
    const [r, w] = pipe();
    sel.register(r, EVENT_READ);
    sel.close();
    expect(sel.closed).toBe(true);
    expectError(() => sel.register(w, EVENT_READ), Error, 'ERR_SELECTOR_CLOSED');
    expectError(() => sel.unregister(r), Error, 'ERR_SELECTOR_CLOSED');
    expectError(() => sel.modify(r, RW), Error, 'ERR_SELECTOR_CLOSED');
    expectError(() => sel.select(0), Error, 'ERR_SELECTOR_CLOSED');
    expectError(() => sel.select(), Error, 'ERR_SELECTOR_CLOSED');
    expectError(() => sel.selectRaw(0), Error, 'ERR_SELECTOR_CLOSED');
    expectError(() => sel.getKey(r), Error, 'ERR_SELECTOR_CLOSED');
    expectError(() => sel.getMap(), Error, 'ERR_SELECTOR_CLOSED');
    if (sel instanceof EpollSelector) expectError(() => sel.fileno(), Error, 'ERR_SELECTOR_CLOSED');
  });

  test('§3 Errors: a closed selector refuses calls before it checks their arguments', () => {
    const sel = openSelector(backend);
    sel.close();
    expectError(() => sel.register(-1, 0), Error, 'ERR_SELECTOR_CLOSED');
    expectError(() => sel.select(NaN), Error, 'ERR_SELECTOR_CLOSED');
  });

  test('§3 Errors: closing twice is a no-op', () => {
    const sel = openSelector(backend);
    expect(sel.closed).toBe(false);
    sel.close();
    expect(() => sel.close()).not.toThrow();
    expect(() => sel[Symbol.dispose]()).not.toThrow();
    expect(sel.closed).toBe(true);
  });

  test('§3 API: [Symbol.dispose]() closes the selector, so `using` closes it at block end', () => {
    let outer: BaseSelector | undefined;
    {
      using sel = createSelector(backend);
      outer = sel;
      expect(sel.closed).toBe(false);
      const [r] = pipe();
      sel.register(r, EVENT_READ);
    }
    expect(outer.closed).toBe(true);
    expectError(() => outer.select(0), Error, 'ERR_SELECTOR_CLOSED');
    const direct = createSelector(backend);
    direct[Symbol.dispose]();
    expect(direct.closed).toBe(true);
  });

  test('§3 API: closing a selector leaves the fds it watched open and usable', () => {
    const sel = openSelector(backend);
    const [r, w] = pipe();
    sel.register(r, EVENT_READ);
    sel.close();
    expect(writeBytes(w, 'ok')).toBe(2);
    const other = openSelector(backend);
    other.register(r, EVENT_READ);
    expectReady(other, 0, [[r, EVENT_READ]]);
  });

  test('§3 API: selectors are independent: the same fd in two selectors with different interests', () => {
    const one = openSelector(backend);
    const two = openSelector(backend);
    const [a, b] = socketpair();
    one.register(a, EVENT_READ);
    two.register(a, RW);
    expectNothingReady(one);
    expectReady(two, 0, [[a, EVENT_WRITE]]);
    writeBytes(b);
    expectReady(one, 0, [[a, EVENT_READ]]);
    expectReady(two, 0, [[a, RW]]);
    one.unregister(a);
    expectReady(two, 0, [[a, RW]]);
  });
});

describe.runIf(availableBackends().includes('epoll'))('EpollSelector.fileno()', () => {
  test('§3 API: fileno() is the epoll fd: open while the selector is, closed with it', () => {
    const sel = openSelector('epoll') as EpollSelector;
    const fd = sel.fileno();
    expect(Number.isInteger(fd) && fd >= 0).toBe(true);
    expect(existsSync(`/proc/self/fd/${fd}`)).toBe(true);
    sel.close();
    expect(existsSync(`/proc/self/fd/${fd}`)).toBe(false);
  });

  test.each(availableBackends())(
    '§3 API: the epoll fd is pollable: a %s selector sees it readable when epoll has a ready fd',
    (outerBackend) => {
      const inner = openSelector('epoll') as EpollSelector;
      const outer = openSelector(outerBackend);
      const [r, w] = pipe();
      inner.register(r, EVENT_READ);
      outer.register(inner.fileno(), EVENT_READ);
      expectNothingReady(outer);
      writeBytes(w);
      expectReady(outer, 0, [[inner.fileno(), EVENT_READ]]);
      expectReady(inner, 0, [[r, EVENT_READ]]);
      expectReady(outer, 0, [[inner.fileno(), EVENT_READ]]); // level-triggered, still ready
      inner.unregister(r);
      expectNothingReady(outer);
    },
  );
});
