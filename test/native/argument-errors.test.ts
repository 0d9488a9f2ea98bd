// The native contract (STYLE.md §4; issue 11 item 3): the addon returns -errno and never throws a
// codeless error. Its argument checks only guard against bugs in the TypeScript layer (which
// validates user input first), and still raise TypeError ERR_INVALID_ARG_TYPE or RangeError
// ERR_INVALID_ARG_VALUE; FdWatch reports a failed start as -errno for TypeScript to build the error.
import { openSync, closeSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, test } from 'vitest';
import { native, type NativeSelectorHandle } from '../../src/native.js';
import { expectError, socketpair, unusedFd } from '../helpers/fds.js';
import { cleanup } from '../helpers/resources.js';

afterEach(cleanup);

describe('native argument checks carry a code', () => {
  test.each(['recv', 'send', 'read', 'write'] as const)(
    '%s refuses a non-buffer with TypeError ERR_INVALID_ARG_TYPE',
    (name) => {
      const [a] = socketpair();
      expectError(() => native[name](a, 'text' as never, 0, 4), TypeError, 'ERR_INVALID_ARG_TYPE');
      expectError(() => native[name](a, Buffer.alloc(4), 'x' as never, 4), TypeError, 'ERR_INVALID_ARG_TYPE');
    },
  );

  test.each(['recv', 'send', 'read', 'write'] as const)(
    '%s refuses a span outside the buffer with RangeError ERR_INVALID_ARG_VALUE',
    (name) => {
      const [a] = socketpair();
      for (const [off, len] of [
        [-1, 1],
        [0, 5],
        [5, 0],
        [2, 3],
      ]) {
        expectError(() => native[name](a, Buffer.alloc(4), off, len), RangeError, 'ERR_INVALID_ARG_VALUE');
      }
    },
  );

  test('integer-argument functions refuse other types with TypeError ERR_INVALID_ARG_TYPE', () => {
    const { AF_INET, SOCK_STREAM } = native.constants;
    expectError(() => native.listen('3' as never, 1), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => native.close(undefined as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => native.socket(AF_INET, 'stream' as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => native.bind(0, AF_INET, 127 as never, 0), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => native.signalWatch('SIGINT' as never, 0), TypeError, 'ERR_INVALID_ARG_TYPE');
    expectError(() => new native.NativeSelector([] as never), TypeError, 'ERR_INVALID_ARG_TYPE');
    const sel = new native.NativeSelector(new Int32Array(8));
    expect(sel.open(0)).toBe(0);
    expectError(() => sel.add('0' as never, 1), TypeError, 'ERR_INVALID_ARG_TYPE');
    sel.close();
    expect(SOCK_STREAM).toBeGreaterThan(0);
  });
});

describe('FdWatch', () => {
  test('refuses a non-function callback with TypeError ERR_INVALID_ARG_TYPE', () => {
    expectError(() => new native.FdWatch(5 as never), TypeError, 'ERR_INVALID_ARG_TYPE');
  });

  test('start() returns -EBADF for a closed fd, without throwing', () => {
    const watch = new native.FdWatch(() => {});
    expect(watch.start(unusedFd())).toBe(-constants.errno.EBADF);
    watch.close();
  });

  // libuv checks the fd with epoll_ctl on Linux, which refuses regular files (epoll_ctl(2): EPERM).
  test.runIf(process.platform === 'linux')('start() returns -EPERM for a regular file, without throwing', () => {
    const file = openSync(fileURLToPath(import.meta.url), 'r');
    try {
      const watch = new native.FdWatch(() => {});
      expect(watch.start(file)).toBe(-constants.errno.EPERM);
      watch.close();
    } finally {
      closeSync(file);
    }
  });

  test('start() after close() returns -EINVAL', () => {
    const [a] = socketpair();
    const watch = new native.FdWatch(() => {});
    watch.close();
    expect(watch.start(a)).toBe(-constants.errno.EINVAL);
  });
});

// A selector's wait, cycle and flush are its own functions, not prototype methods (binding.cc:
// no napi_unwrap per call). Kept past the life of the selector they came from, they must
// answer -EBADF, not reach a freed wrap.
/** The hot methods as plain functions, kept without the selector they came from. */
interface HotMethods {
  wait: (timeoutMs: number) => number;
  cycle: (timeoutMs: number, writeCount: number, readSlab: Uint8Array | undefined) => number;
  flush: (writeCount: number) => number;
}

function ownFunction<K extends keyof HotMethods>(sel: NativeSelectorHandle, name: K): HotMethods[K] {
  const value: unknown = Object.getOwnPropertyDescriptor(sel, name)?.value;
  expect(typeof value).toBe('function');
  return value as HotMethods[K];
}

describe('NativeSelector hot methods', () => {
  const { EBADF } = constants.errno;

  test('are own functions of each selector, bound to it', () => {
    const a = new native.NativeSelector(new Int32Array(8));
    const b = new native.NativeSelector(new Int32Array(8));
    expect(a.open(0)).toBe(0);
    for (const name of ['wait', 'cycle', 'flush'] as const) {
      expect(Object.hasOwn(a, name)).toBe(true);
      expect(a[name]).not.toBe(b[name]);
    }
    // b was never opened: its wait, even called with a's `this`, is b's.
    expect(ownFunction(b, 'wait').call(a, 0)).toBe(-EBADF);
    expect(ownFunction(a, 'wait').call(b, 0)).toBe(0);
    a.close();
    expect(a.wait(0)).toBe(-EBADF);
  });

  test('kept after their selector was collected, answer -EBADF', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    let collected = false;
    const registry = new FinalizationRegistry(() => (collected = true));
    const kept = ((): HotMethods => {
      const sel = new native.NativeSelector(new Int32Array(8));
      expect(sel.open(0)).toBe(0);
      registry.register(sel, 'selector');
      return { wait: ownFunction(sel, 'wait'), cycle: ownFunction(sel, 'cycle'), flush: ownFunction(sel, 'flush') };
    })();
    // Node runs N-API finalizers (the wrap's destructor) from its own queue after a GC.
    for (let i = 0; i < 50 && !collected; i++) {
      gc();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(collected).toBe(true);
    // The wrap's destructor may come a turn after the registry heard of the collection.
    for (let i = 0; i < 50 && kept.wait(0) !== -EBADF; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(kept.wait(0)).toBe(-EBADF);
    expect(kept.cycle(0, 0, undefined)).toBe(-EBADF);
    expect(kept.flush(0)).toBe(-EBADF);
  });
});
