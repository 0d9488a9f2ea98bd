// The registration contract (DESIGN §3 "Public API contract" and its "Errors" list): register,
// modify, unregister, getKey and getMap, and every error they raise, on every backend.
import { constants as osConstants } from 'node:os';
import { closeSync, openSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';
import { availableBackends } from '../../src/selectors.js';
import {
  EVENT_READ,
  EVENT_WRITE,
  RW,
  closeFd,
  expectError,
  expectNothingReady,
  expectReady,
  openSelector,
  pipe,
  socketpair,
  unusedFd,
  writeBytes,
} from '../helpers/fds.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

// The syscall each backend names in a failed registration's error (Node's error shape).
const CTL_SYSCALL: Record<string, string> = { select: 'select', poll: 'poll', epoll: 'epoll_ctl', kqueue: 'kevent' };

describe.each(availableBackends())('%s selector', (backend) => {
  const open = () => openSelector(backend);

  describe('register / getKey / getMap', () => {
    test('§3 API: register returns a frozen key {fileobj, fd, events, data} that getKey and getMap return', () => {
      const sel = open();
      const [r] = pipe();
      const data = { tag: 'r' };
      const key = sel.register(r, EVENT_READ, data);
      expect(key).toEqual({ fileobj: r, fd: r, events: EVENT_READ, data });
      expect(key.data).toBe(data);
      expect(Object.isFrozen(key)).toBe(true);
      expect(sel.getKey(r)).toBe(key);
      expect(sel.getMap().get(r)).toBe(key);
      expect(sel.getMap().size).toBe(1);
    });

    test('§3 API: register without data stores data undefined', () => {
      const sel = open();
      const [r] = pipe();
      expect(sel.register(r, EVENT_READ).data).toBeUndefined();
    });

    test('§3 FileLike: an object with fileno() registers as its fd and is found by object or number', () => {
      const sel = open();
      const [a, b] = socketpair();
      const file = { fileno: () => a };
      const key = sel.register(file, RW, 'file');
      expect(key.fileobj).toBe(file);
      expect(key.fd).toBe(a);
      expect(sel.getKey(a)).toBe(key);
      expect(sel.getKey({ fileno: () => a })).toBe(key);
      writeBytes(b);
      expectReady(sel, 0, [[a, RW]]);
      expect(sel.unregister(file)).toBe(key);
      expect(sel.getMap().size).toBe(0);
    });

    test('§3 Errors: registering an fd twice fails with ERR_FD_ALREADY_REGISTERED and keeps the first key', () => {
      const sel = open();
      const [r] = pipe();
      const first = sel.register(r, EVENT_READ, 'first');
      expectError(() => sel.register(r, EVENT_READ, 'second'), Error, 'ERR_FD_ALREADY_REGISTERED');
      expectError(() => sel.register({ fileno: () => r }, EVENT_WRITE), Error, 'ERR_FD_ALREADY_REGISTERED');
      expect(sel.getKey(r)).toBe(first);
      expect(sel.getMap().size).toBe(1);
    });

    test('§3 Errors: unregister, modify and getKey of an unknown fd fail with ERR_FD_NOT_REGISTERED', () => {
      const sel = open();
      const [r, w] = pipe();
      sel.register(w, EVENT_WRITE);
      expectError(() => sel.unregister(r), Error, 'ERR_FD_NOT_REGISTERED');
      expectError(() => sel.modify(r, EVENT_READ), Error, 'ERR_FD_NOT_REGISTERED');
      expectError(() => sel.getKey(r), Error, 'ERR_FD_NOT_REGISTERED');
      expectError(() => sel.getKey({ fileno: () => r }), Error, 'ERR_FD_NOT_REGISTERED');
      sel.unregister(w);
      expectError(() => sel.unregister(w), Error, 'ERR_FD_NOT_REGISTERED');
      expectError(() => sel.getKey(w), Error, 'ERR_FD_NOT_REGISTERED');
    });

    test.each([0, 4, 8, -1, 1.5, RW | 4, 2 ** 31, NaN, Infinity])(
      '§3 Errors: events %s is refused with RangeError ERR_INVALID_ARG_VALUE, leaving no key',
      (events) => {
        const sel = open();
        const [r] = pipe();
        const err = expectError(() => sel.register(r, events), RangeError, 'ERR_INVALID_ARG_VALUE');
        expect(err.message).toMatch(/'events'/);
        expect(sel.getMap().has(r)).toBe(false);
        const key = sel.register(r, EVENT_READ, 'kept');
        expectError(() => sel.modify(r, events, 'changed'), RangeError, 'ERR_INVALID_ARG_VALUE');
        expect(sel.getKey(r)).toBe(key);
      },
    );

    test.each<[string, unknown]>([
      ['string', '1'],
      ['null', null],
      ['undefined', undefined],
      ['object', {}],
      ['bigint', 1n],
    ])('§3 Errors: events of type %s is refused with TypeError ERR_INVALID_ARG_TYPE', (_, events) => {
      const sel = open();
      const [r] = pipe();
      expectError(() => sel.register(r, events as number), TypeError, 'ERR_INVALID_ARG_TYPE');
      expect(sel.getMap().has(r)).toBe(false);
      sel.register(r, EVENT_READ);
      expectError(() => sel.modify(r, events as number), TypeError, 'ERR_INVALID_ARG_TYPE');
      expect(sel.getKey(r).events).toBe(EVENT_READ);
    });

    test.each<[string, unknown]>([
      ['string', '3'],
      ['null', null],
      ['undefined', undefined],
      ['object without fileno', {}],
      ['object whose fileno is not a function', { fileno: 3 }],
      ['boolean', true],
    ])('§3 Errors: an fd of type %s is refused with TypeError ERR_INVALID_ARG_TYPE', (_, fileobj) => {
      const sel = open();
      const [r] = pipe();
      sel.register(r, EVENT_READ);
      const bad = fileobj as number;
      expectError(() => sel.register(bad, EVENT_READ), TypeError, 'ERR_INVALID_ARG_TYPE');
      expectError(() => sel.unregister(bad), TypeError, 'ERR_INVALID_ARG_TYPE');
      expectError(() => sel.modify(bad, EVENT_READ), TypeError, 'ERR_INVALID_ARG_TYPE');
      expectError(() => sel.getKey(bad), TypeError, 'ERR_INVALID_ARG_TYPE');
      expect(sel.getMap().size).toBe(1);
    });

    test.each([-1, -0.5, 1.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32 + 3])(
      '§3 Errors: fd %s (negative, not an integer or past int32) is refused with RangeError ERR_INVALID_ARG_VALUE',
      (fd) => {
        const sel = open();
        const err = expectError(() => sel.register(fd, EVENT_READ), RangeError, 'ERR_INVALID_ARG_VALUE');
        expect(err.message).toContain(String(fd));
        expectError(() => sel.register({ fileno: () => fd }, EVENT_READ), RangeError, 'ERR_INVALID_ARG_VALUE');
        expectError(() => sel.unregister(fd), RangeError, 'ERR_INVALID_ARG_VALUE');
        expectError(() => sel.modify(fd, EVENT_READ), RangeError, 'ERR_INVALID_ARG_VALUE');
        expectError(() => sel.getKey(fd), RangeError, 'ERR_INVALID_ARG_VALUE');
        expect(sel.getMap().size).toBe(0);
      },
    );

    test("§3 Errors: an fd that is not open fails with EBADF in Node's shape (with its errno and syscall) and leaves no key", () => {
      const sel = open();
      const fd = unusedFd();
      const err = expectError(() => sel.register(fd, EVENT_READ), Error, 'EBADF');
      expect(err.errno).toBe(-osConstants.errno.EBADF);
      expect(err.syscall).toBe(CTL_SYSCALL[backend]);
      expect(err.message).toBe(`EBADF: bad file descriptor, ${CTL_SYSCALL[backend]}`);
      expect(sel.getMap().has(fd)).toBe(false);
      expectError(() => sel.getKey(fd), Error, 'ERR_FD_NOT_REGISTERED');
      // Nothing half-registered: once the number is a real fd, it registers normally.
      const [r, w] = pipe();
      expect(r).toBe(fd);
      sel.register(r, EVENT_READ);
      writeBytes(w);
      expectReady(sel, 0, [[r, EVENT_READ]]);
    });
  });

  describe('modify', () => {
    test('§3 Rules: modify without data sets data to undefined, as Python does', () => {
      const sel = open();
      const [r] = pipe();
      sel.register(r, EVENT_READ, 'data');
      const key = sel.modify(r, EVENT_READ);
      expect(key.data).toBeUndefined();
      expect(sel.getKey(r)).toBe(key);
    });

    test('§3 Rules: modify of data alone keeps the events and the readiness', () => {
      const sel = open();
      const [a, b] = socketpair();
      const before = sel.register(a, EVENT_READ, 'old');
      writeBytes(b);
      expectReady(sel, 0, [[a, EVENT_READ]]);
      const after = sel.modify(a, EVENT_READ, 'new');
      expect(after).toEqual({ fileobj: a, fd: a, events: EVENT_READ, data: 'new' });
      expect(Object.isFrozen(after)).toBe(true);
      expect(before.data).toBe('old'); // keys are snapshots, not mutated in place
      expect(sel.getKey(a)).toBe(after);
      expectReady(sel, 0, [[a, EVENT_READ]]);
      const [[key]] = sel.select(0);
      expect(key.data).toBe('new');
    });

    test('§3 Readiness: modify changes which bits are watched and reported', () => {
      const sel = open();
      const [a, b] = socketpair();
      sel.register(a, EVENT_READ);
      expectNothingReady(sel); // writable, but WRITE was not asked
      sel.modify(a, EVENT_WRITE);
      expectReady(sel, 0, [[a, EVENT_WRITE]]);
      writeBytes(b);
      sel.modify(a, RW);
      expectReady(sel, 0, [[a, RW]]);
      sel.modify(a, EVENT_READ);
      expectReady(sel, 0, [[a, EVENT_READ]]);
    });

    test('§3 Rules: modify may change the fileobj to another object with the same fd', () => {
      const sel = open();
      const [r] = pipe();
      sel.register(r, EVENT_READ);
      const file = { fileno: () => r };
      const key = sel.modify(file, EVENT_READ, 1);
      expect(key.fileobj).toBe(file);
      expect(key.fd).toBe(r);
    });
  });

  describe('unregister', () => {
    test('§3 API: unregister returns the key and the fd is no longer reported', () => {
      const sel = open();
      const [r, w] = pipe();
      const key = sel.register(r, EVENT_READ, 'x');
      writeBytes(w);
      expectReady(sel, 0, [[r, EVENT_READ]]);
      expect(sel.unregister(r)).toBe(key);
      expect(sel.getMap().has(r)).toBe(false);
      expectNothingReady(sel);
      // and it can be registered again
      sel.register(r, EVENT_READ);
      expectReady(sel, 0, [[r, EVENT_READ]]);
    });

    test('§3 Rules: unregistering an fd that was closed while registered succeeds', () => {
      const sel = open();
      const [r] = pipe();
      const key = sel.register(r, EVENT_READ);
      closeFd(r);
      expect(sel.unregister(r)).toBe(key);
      expect(sel.getMap().size).toBe(0);
    });
  });

  describe('getMap', () => {
    test('§3 Rules: getMap() is a live view that follows register, modify and unregister', () => {
      const sel = open();
      const map = sel.getMap();
      expect(map.size).toBe(0);
      const [r, w] = pipe();
      const kr = sel.register(r, EVENT_READ);
      const kw = sel.register(w, EVENT_WRITE);
      expect(map.size).toBe(2);
      expect(map.get(r)).toBe(kr);
      expect(map.has(w)).toBe(true);
      expect([...map.keys()].sort((x, y) => x - y)).toEqual([r, w].sort((x, y) => x - y));
      expect(new Set(map.values())).toEqual(new Set([kr, kw]));
      expect(new Map(map)).toEqual(
        new Map([
          [r, kr],
          [w, kw],
        ]),
      );
      expect(new Map(map.entries())).toEqual(
        new Map([
          [r, kr],
          [w, kw],
        ]),
      );
      const seen: number[] = [];
      map.forEach((key, fd, m) => {
        expect(key.fd).toBe(fd);
        expect(m).toBe(map);
        seen.push(fd);
      });
      expect(seen.length).toBe(2);
      const km = sel.modify(r, RW, 'm');
      expect(map.get(r)).toBe(km);
      sel.unregister(w);
      expect(map.size).toBe(1);
      expect(map.has(w)).toBe(false);
    });

    test('§3 Rules: getMap() is read-only: it has no set, delete or clear', () => {
      const sel = open();
      const [r] = pipe();
      sel.register(r, EVENT_READ);
      const map = sel.getMap() as unknown as Record<string, unknown>;
      expect(map.set).toBeUndefined();
      expect(map.delete).toBeUndefined();
      expect(map.clear).toBeUndefined();
      expect(map).not.toBeInstanceOf(Map);
    });

    test('§3 Rules: keys are frozen: assigning to a key throws and changes nothing', () => {
      const sel = open();
      const [r] = pipe();
      const key = sel.register(r, EVENT_READ, 'd');
      expect(() => {
        (key as { events: number }).events = RW;
      }).toThrow(TypeError);
      expect(() => {
        (key as { data: unknown }).data = 'other';
      }).toThrow(TypeError);
      expect(sel.getKey(r)).toEqual({ fileobj: r, fd: r, events: EVENT_READ, data: 'd' });
    });
  });
});

// A kernel refusal is the case where rollback matters: the argument checks all pass, then the
// syscall fails. Only epoll refuses fds that select(2) and poll(2) accept.
describe.runIf(availableBackends().includes('epoll'))('epoll selector: kernel refusals', () => {
  test('§3 Rules: a register the kernel refuses (EPERM: /dev/null cannot be polled by epoll) leaves no key', () => {
    const sel = openSelector('epoll');
    const fd = openSync('/dev/null', 'r');
    try {
      const err = expectError(() => sel.register(fd, EVENT_READ), Error, 'EPERM');
      expect(err.syscall).toBe('epoll_ctl');
      expect(err.errno).toBe(-osConstants.errno.EPERM);
      expect(err.message).toBe('EPERM: operation not permitted, epoll_ctl');
      expect(sel.getMap().has(fd)).toBe(false);
      expectError(() => sel.getKey(fd), Error, 'ERR_FD_NOT_REGISTERED');
    } finally {
      closeSync(fd);
    }
  });

  test('§3 Rules: a modify the kernel refuses (EBADF: fd closed) leaves the old key in place', () => {
    const sel = openSelector<string>('epoll');
    const [r] = pipe();
    const key = sel.register(r, EVENT_READ, 'old');
    closeFd(r);
    const err = expectError(() => sel.modify(r, RW, 'new'), Error, 'EBADF');
    expect(err.syscall).toBe('epoll_ctl');
    expect(sel.getKey(r)).toBe(key);
    expect(sel.unregister(r)).toBe(key);
  });
});
